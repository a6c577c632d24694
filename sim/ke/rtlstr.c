/*
 * rtlstr.c - counted UTF-16 strings (UNICODE_STRING), the Rtl part of the
 * kernel's string handling.  Drivers hand the engine UTF-16 names; the
 * engine keeps UTF-8 (the trace, the scenario language), so these convert
 * both ways without depending on the size of wchar_t.
 */
#include "ke/ke.h"

void RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString) {
  size_t n = 0;
  if (SourceString)
    while (SourceString[n]) n++;
  /* Windows caps the length at MAXUSHORT - 1 bytes; so do we. */
  if (n * sizeof(WCHAR) > 0xfffc) n = 0xfffc / sizeof(WCHAR);
  DestinationString->Buffer = (PWSTR)SourceString;
  DestinationString->Length = (USHORT)(n * sizeof(WCHAR));
  DestinationString->MaximumLength = SourceString ? (USHORT)(DestinationString->Length + sizeof(WCHAR)) : 0;
}

/* Appends the UTF-8 of code point c to buf[*k..n-1); false if it does
   not fit (the text is cut there, not after a character left out). */
static bool put_utf8(char *buf, size_t n, size_t *k, uint32_t c) {
  char t[4];
  size_t m;
  if (c < 0x80) t[0] = (char)c, m = 1;
  else if (c < 0x800) t[0] = (char)(0xC0 | c >> 6), t[1] = (char)(0x80 | (c & 0x3F)), m = 2;
  else if (c < 0x10000)
    t[0] = (char)(0xE0 | c >> 12), t[1] = (char)(0x80 | ((c >> 6) & 0x3F)), t[2] = (char)(0x80 | (c & 0x3F)), m = 3;
  else
    t[0] = (char)(0xF0 | c >> 18), t[1] = (char)(0x80 | ((c >> 12) & 0x3F)),
    t[2] = (char)(0x80 | ((c >> 6) & 0x3F)), t[3] = (char)(0x80 | (c & 0x3F)), m = 4;
  if (*k + m >= n) return false;
  memcpy(buf + *k, t, m);
  *k += m;
  return true;
}

char *iosim_unicode_to_utf8(PCUNICODE_STRING Str, char *buf, size_t n) {
  size_t k = 0;
  if (!n) return buf;
  size_t len = Str && Str->Buffer ? Str->Length / sizeof(WCHAR) : 0;
  for (size_t i = 0; i < len; i++) {
    uint32_t c = Str->Buffer[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < len && Str->Buffer[i + 1] >= 0xDC00 && Str->Buffer[i + 1] < 0xE000)
      c = 0x10000 + ((c - 0xD800) << 10) + (Str->Buffer[++i] - 0xDC00);
    else if (c >= 0xD800 && c < 0xE000)
      c = 0xFFFD; /* a lone surrogate */
    if (!put_utf8(buf, n, &k, c)) break;
  }
  buf[k] = 0;
  return buf;
}

size_t ustr_from_utf8(const char *s, WCHAR *out, size_t cap) {
  size_t k = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p && k + 1 < cap) {
    uint32_t c = *p++;
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (more) c &= 0x3Fu >> more;
    for (; more && (*p & 0xC0) == 0x80; more--) c = c << 6 | (*p++ & 0x3F);
    if (more || (c >= 0x80 && c < 0xC0 && p[-1] == c)) c = 0xFFFD; /* truncated or stray byte */
    if (c >= 0x10000) {
      if (k + 2 >= cap) break;
      c -= 0x10000;
      out[k++] = (WCHAR)(0xD800 + (c >> 10));
      out[k++] = (WCHAR)(0xDC00 + (c & 0x3FF));
    } else
      out[k++] = (WCHAR)c;
  }
  out[k] = 0;
  return k;
}
