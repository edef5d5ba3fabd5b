/* What every operation binary includes: the call table and the attribute
 * that puts its entry point first, at OPERATION_LOAD_ADDR. */
#ifndef INSTAR_OP_H
#define INSTAR_OP_H

#include "instar/calltable.h"
#include "instar/mem.h"

#define OPERATION_ENTRY __attribute__((section(".text.entry"), used))

#endif
