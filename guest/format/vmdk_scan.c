#include "vmdk_scan.h"

static int is_space(uint8_t ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r'); /* \t \n \v \f \r */
}

const uint8_t *vmdk_strstr(const uint8_t *s, const char *needle)
{
	for (; *s != 0; s++) {
		uint32_t i = 0;
		while (needle[i] != 0 && s[i] == (uint8_t)needle[i])
			i++;
		if (needle[i] == 0)
			return s;
	}
	return needle[0] == 0 ? s : 0;
}

void vmdk_scan_space(struct vmdk_cursor *c)
{
	while (*c->p != 0 && is_space(*c->p))
		c->p++;
}

int vmdk_scan_char(struct vmdk_cursor *c, uint8_t ch)
{
	if (*c->p != ch || ch == 0)
		return 0;
	c->p++;
	return 1;
}

int vmdk_scan_token(struct vmdk_cursor *c, uint8_t *out, uint32_t max)
{
	uint32_t n = 0;
	vmdk_scan_space(c);
	while (n < max && *c->p != 0 && !is_space(*c->p))
		out[n++] = *c->p++;
	out[n] = 0;
	return n > 0;
}

/* scan_sign skips spaces and a sign, as strtol does: where the digits
 * start, and whether the sign was '-'. */
static const uint8_t *scan_sign(struct vmdk_cursor *c, int *neg)
{
	vmdk_scan_space(c);
	const uint8_t *p = c->p;
	*neg = 0;
	if (*p == '+' || *p == '-')
		*neg = *p++ == '-';
	return p;
}

int vmdk_scan_i64(struct vmdk_cursor *c, int64_t *v)
{
	int neg;
	const uint8_t *p = scan_sign(c, &neg);
	if (*p < '0' || *p > '9')
		return 0;
	uint64_t acc = 0;
	int over = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (acc > (UINT64_MAX - d) / 10)
			over = 1;
		else
			acc = acc * 10 + d;
	}
	c->p = p;
	uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (over || acc > lim)
		acc = lim;
	*v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 1;
}

static int hex_digit(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int vmdk_scan_hex32(struct vmdk_cursor *c, uint32_t *v)
{
	int neg;
	const uint8_t *p = scan_sign(c, &neg);
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && hex_digit(p[2]) >= 0)
		p += 2;
	if (hex_digit(*p) < 0)
		return 0;
	uint64_t acc = 0;
	int over = 0;
	for (; hex_digit(*p) >= 0; p++) {
		if (acc >> 60)
			over = 1;
		acc = (acc << 4) | (uint64_t)hex_digit(*p);
	}
	c->p = p;
	if (over)
		acc = UINT64_MAX; /* strtoul's ERANGE value */
	else if (neg)
		acc = 0 - acc;
	*v = (uint32_t)acc;
	return 1;
}

int vmdk_scan_name(struct vmdk_cursor *c, uint8_t *out, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && *c->p != 0 && *c->p != '\n' && *c->p != '\r' && *c->p != '"')
		out[n++] = *c->p++;
	out[n] = 0;
	return n > 0;
}

int vmdk_streq(const uint8_t *a, const char *b)
{
	uint32_t i = 0;
	for (; b[i] != 0; i++) {
		if (a[i] != (uint8_t)b[i])
			return 0;
	}
	return a[i] == 0;
}
