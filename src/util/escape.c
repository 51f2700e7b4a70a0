/* escape.c — text escapers for the output formats (YAML/JSON quoted strings, XML attributes and CDATA,
 * C-style literals in failure messages; JSON strings for the JSON report and the trace files) and the
 * small text helpers of messages (a path's base name, one-line copies, folded digits). Each takes raw
 * bytes, which may be invalid UTF-8, and always produces valid output for its format. */
#include "util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence at s[0..n). Returns its length and sets *cp, or returns 0 for an invalid
 * or truncated sequence (overlong forms and surrogates are invalid). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* True when s starts "##[": a GitHub Actions runner takes that anywhere in a line as the legacy form of a
 * workflow command ("##[error]..."). Writing its first '#' as an escape defuses it. */
static bool legacy_command_at(const unsigned char *s, size_t n) {
    return n >= 3 && s[0] == '#' && s[1] == '#' && s[2] == '[';
}

/* The backslash escaping ac__escape_quoted and ac__escape_c share: quotes, backslashes, \n \t \r and the
 * other control characters escaped, invalid UTF-8 bytes written as \xNN. `yaml` adds the YAML/JSON rules:
 * upper-case hex digits, the '#' of "##[" as \x23, and C1 controls, the BOM, U+FFFE/U+FFFF and the
 * Unicode line and paragraph separators as \uXXXX; without it, C's (lower-case hex, the rest as is). */
static void escape_backslashed(ac__buf *b, const char *str, size_t n, bool yaml) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            ac__buf_printf(b, yaml ? "\\x%02X" : "\\x%02x", s[i]);
            i++;
            continue;
        }
        switch (cp) {
        case '"':
            ac__buf_puts(b, "\\\"");
            break;
        case '\\':
            ac__buf_puts(b, "\\\\");
            break;
        case '\n':
            ac__buf_puts(b, "\\n");
            break;
        case '\t':
            ac__buf_puts(b, "\\t");
            break;
        case '\r':
            ac__buf_puts(b, "\\r");
            break;
        default:
            if (yaml && cp == '#' && legacy_command_at(s + i, n - i))
                ac__buf_puts(b, "\\x23");
            else if (cp < 0x20 || cp == 0x7F)
                ac__buf_printf(b, yaml ? "\\x%02X" : "\\x%02x", (unsigned)cp);
            else if (yaml && ((cp >= 0x80 && cp <= 0x9F) || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF ||
                              cp == 0x2028 || cp == 0x2029))
                ac__buf_printf(b, "\\u%04X", (unsigned)cp);
            else
                ac__buf_append(b, s + i, len);
        }
        i += len;
    }
}

void ac__escape_quoted(ac__buf *b, const char *str, size_t n) {
    escape_backslashed(b, str, n, true);
}

static bool xml_allowed(uint32_t cp) {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void ac__escape_xml_attr(ac__buf *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            i++;
            continue;
        }
        switch (cp) {
        case '&':
            ac__buf_puts(b, "&amp;");
            break;
        case '<':
            ac__buf_puts(b, "&lt;");
            break;
        case '>':
            ac__buf_puts(b, "&gt;");
            break;
        case '"':
            ac__buf_puts(b, "&quot;");
            break;
        case '\'':
            ac__buf_puts(b, "&apos;");
            break;
        case '\n':
            ac__buf_puts(b, "&#10;");
            break;
        case '\r':
            ac__buf_puts(b, "&#13;");
            break;
        case '\t':
            ac__buf_puts(b, "&#9;");
            break;
        default:
            if (xml_allowed(cp))
                ac__buf_append(b, s + i, len);
        }
        i += len;
    }
}

void ac__escape_xml_cdata(ac__buf *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    ac__buf_puts(b, "<![CDATA[");
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && s[i] == ']' && s[i + 1] == ']' && s[i + 2] == '>') {
            ac__buf_puts(b, "]]]]><![CDATA[>");
            i += 3;
            continue;
        }
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            i++;
            continue;
        }
        if (xml_allowed(cp))
            ac__buf_append(b, s + i, len);
        i += len;
    }
    ac__buf_puts(b, "]]>");
}

void ac__escape_c(ac__buf *b, const char *str, size_t n) {
    ac__buf_puts(b, "\"");
    escape_backslashed(b, str, n, false);
    ac__buf_puts(b, "\"");
}

void ac__escape_line(ac__buf *b, const char *str, size_t n, int flags) {
    const unsigned char *s = (const unsigned char *)str;
    size_t lead = 0; /* a workflow command is "::" after leading white space */
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    for (size_t i = 0; i < n;) {
        if ((flags & AC_ESC_COMMANDS) && ((i == lead && n - i >= 2 && s[i] == ':' && s[i + 1] == ':') ||
                                          legacy_command_at(s + i, n - i))) {
            ac__buf_printf(b, "\\x%02X", s[i]);
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            if (flags & AC_ESC_CONTROLS)
                ac__buf_printf(b, "\\x%02X", s[i]);
            else
                ac__buf_append(b, s + i, 1);
            i++;
            continue;
        }
        bool line_end = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
                        cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        bool control = cp < 0x20 ? cp != '\t' : cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
        if (cp == '\n')
            ac__buf_puts(b, "\\n");
        else if (cp == '\r')
            ac__buf_puts(b, "\\r");
        else if (cp == '\\' && (flags & AC_ESC_BACKSLASH))
            ac__buf_puts(b, "\\\\");
        else if (line_end || (control && (flags & AC_ESC_CONTROLS)))
            ac__buf_printf(b, "\\%c%0*X", cp < 0x80 ? 'x' : 'u', cp < 0x80 ? 2 : 4, (unsigned)cp);
        else
            ac__buf_append(b, s + i, len);
        i += len;
    }
}

void ac__hex_window(ac__buf *b, const unsigned char *p, size_t n, size_t at) {
    size_t from = at > 8 ? at - 8 : 0, to = at + 9 < n ? at + 9 : n;
    ac__buf_printf(b, "@0x%zx:%s", from, from > 0 ? " ..." : "");
    for (size_t i = from; i < to; i++)
        ac__buf_printf(b, i == at ? " [%02x]" : " %02x", p[i]);
    if (to < n)
        ac__buf_puts(b, " ...");
}

void ac__fold_digits(ac__buf *b, const char *s) {
    for (; *s; s++) {
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit((unsigned char)s[2])) {
            s += 2; /* an address: 0x55d3a0c4e2b0 */
            while (isxdigit((unsigned char)s[1]))
                s++;
            ac__buf_puts(b, "0xN");
        } else if (*s >= '0' && *s <= '9') {
            while (s[1] >= '0' && s[1] <= '9')
                s++;
            ac__buf_puts(b, "N");
        } else {
            ac__buf_append(b, s, 1);
        }
    }
}

const char *ac__base_name(const char *path) {
    if (!path)
        return "?";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *ac__one_line(const char *s) {
    ac__buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            ac__buf_printf(&b, "\\x%02x", *p);
        else
            ac__buf_append(&b, p, 1);
    return ac__buf_take(&b);
}

void ac__escape_json(ac__buf *b, const char *s, size_t n) {
    ac__buf tmp = {0};
    ac__escape_quoted(&tmp, s, n);
    ac__buf_puts(b, "\"");
    for (size_t i = 0; i < tmp.len; i++) {
        if (tmp.data[i] == '\\' && i + 3 < tmp.len && tmp.data[i + 1] == 'x') {
            unsigned v = (unsigned)strtoul((char[]){tmp.data[i + 2], tmp.data[i + 3], 0}, NULL, 16);
            if (v < 0x80)
                ac__buf_printf(b, "\\u%04X", v);
            else
                ac__buf_puts(b, "\\uFFFD");
            i += 3;
        } else if (tmp.data[i] == '\\') {
            ac__buf_append(b, tmp.data + i, 2);
            i++;
        } else {
            ac__buf_append(b, tmp.data + i, 1);
        }
    }
    ac__buf_puts(b, "\"");
    ac__buf_free(&tmp);
}
