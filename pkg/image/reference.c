#include "image/reference.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define DEFAULT_DOMAIN  "docker.io"
#define LEGACY_DOMAIN   "index.docker.io"
#define OFFICIAL_PREFIX "library/"
#define DEFAULT_TAG     "latest"
#define LOCALHOST       "localhost"
#define PATH_MAX_LEN    255
#define TAG_MAX_LEN     128
#define ID_HEX_LEN      64

/* Quoted text in messages is cut to this many output characters so that the
 * reason after it always fits in CRISP_ERR_MSG_MAX. */
#define QUOTE_REF_MAX  280
#define QUOTE_PART_MAX 160
#define QUOTE_BUF      (QUOTE_REF_MAX + 8)

#define TAG_EXPECTED  "expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
#define DIGEST_EXPECT "expected sha256:<64 lowercase hex>"
#define PATH_EXPECTED                                                                              \
    "expected lowercase letters and digits separated by \".\", \"_\", \"__\" or \"-\", "           \
    "components joined by single \"/\""
#define DOMAIN_EXPECTED                                                                            \
    "expected a host name (labels of letters, digits and \"-\" joined by \".\"), an IPv4 "         \
    "address or an IPv6 address in \"[]\", optionally followed by \":\" and a port number"

/* ASCII only: the grammar is ASCII and the locale must not matter. */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower_alnum(char c)
{
    return is_lower(c) || is_digit(c);
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || is_upper(c);
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

static bool is_lower_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool all_lower_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_lower_hex(p[i]))
            return false;
    return true;
}

static bool slice_eq(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* Writes p[0..n) in double quotes into buf, escaping '"', '\' and bytes
 * outside printable ASCII as \xNN, and cutting it with "..." after max output
 * characters. */
static const char *quote(char buf[QUOTE_BUF], const char *p, size_t n, size_t max)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        char esc[5];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            snprintf(esc, sizeof(esc), "\\x%02x", c);
        else
            snprintf(esc, sizeof(esc), "%c", c);
        size_t elen = strlen(esc);
        if (o - 1 + elen > max) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, esc, elen);
        o += elen;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static const char *quote_part(char buf[QUOTE_BUF], const char *p, size_t n)
{
    return quote(buf, p, n, QUOTE_PART_MAX);
}

/* INVALID_ARGUMENT `invalid image reference "<s>": <reason>`. */
__attribute__((format(printf, 3, 4))) static int ref_error(struct crisp_err *err, const char *s,
                                                           const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    char reason[CRISP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    char q[QUOTE_BUF];
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "invalid image reference %s: %s",
                        quote(q, s, strlen(s), QUOTE_REF_MAX), reason);
}

/* domain := (host-name | IPv4 | "[" IPv6 "]") [":" port], as distribution's
 * domainAndPort. */
static int check_domain(const char *s, const char *d, size_t n, struct crisp_err *err)
{
    char q[QUOTE_BUF];
    const char *end = d + n, *rest;
    if (d[0] == '[') {
        const char *close = memchr(d, ']', n);
        if (!close)
            return ref_error(err, s, "domain %s has no closing \"]\" (%s)", quote_part(q, d, n),
                             DOMAIN_EXPECTED);
        if (close == d + 1)
            return ref_error(err, s, "domain %s has an empty IPv6 address (%s)",
                             quote_part(q, d, n), DOMAIN_EXPECTED);
        for (const char *p = d + 1; p < close; p++)
            if (!is_lower_hex(*p) && !(*p >= 'A' && *p <= 'F') && *p != ':')
                return ref_error(err, s,
                                 "domain %s: an IPv6 address in \"[]\" may only have hex digits "
                                 "and \":\" (no zone or embedded IPv4)",
                                 quote_part(q, d, n));
        rest = close + 1;
    } else {
        const char *colon = memchr(d, ':', n);
        rest = colon ? colon : end;
        if (rest == d)
            return ref_error(err, s, "domain %s has no host name before the port (%s)",
                             quote_part(q, d, n), DOMAIN_EXPECTED);
        /* Labels: [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9], joined by '.'. */
        const char *label = d;
        for (const char *p = d;; p++) {
            if (p == rest || *p == '.') {
                if (p == label || label[0] == '-' || p[-1] == '-')
                    return ref_error(err, s, "domain %s is not a valid host name (%s)",
                                     quote_part(q, d, n), DOMAIN_EXPECTED);
                if (p == rest)
                    break;
                label = p + 1;
            } else if (!is_alnum(*p) && *p != '-') {
                char qc[QUOTE_BUF];
                return ref_error(err, s, "domain %s has invalid character %s (%s)",
                                 quote_part(q, d, n), quote_part(qc, p, 1), DOMAIN_EXPECTED);
            }
        }
    }
    if (rest == end)
        return 0;
    if (*rest != ':')
        return ref_error(err, s, "domain %s: expected \":\" and a port number after \"]\"",
                         quote_part(q, d, n));
    if (rest + 1 == end)
        return ref_error(err, s, "domain %s has an empty port after \":\" (expected digits)",
                         quote_part(q, d, n));
    for (const char *p = rest + 1; p < end; p++)
        if (!is_digit(*p))
            return ref_error(err, s, "domain %s: the port must be digits only",
                             quote_part(q, d, n));
    return 0;
}

enum component_fault { COMPONENT_OK, COMPONENT_BAD_CHAR, COMPONENT_BAD_EDGE, COMPONENT_BAD_SEP };

/* One path component: [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)*. On a fault,
 * bad and bad_len give the offending character or separator. */
static enum component_fault component_check(const char *c, size_t n, const char **bad,
                                            size_t *bad_len)
{
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(c[i]) && c[i] != '.' && c[i] != '_' && c[i] != '-') {
            *bad = c + i;
            *bad_len = 1;
            return COMPONENT_BAD_CHAR;
        }
    if (!is_lower_alnum(c[0]) || !is_lower_alnum(c[n - 1]))
        return COMPONENT_BAD_EDGE;
    for (size_t i = 0; i < n;) {
        if (is_lower_alnum(c[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (!is_lower_alnum(c[j]))
            j++;
        size_t sep = j - i;
        bool dashes = strspn(c + i, "-") >= sep;
        if (sep > 1 && !dashes && !(sep == 2 && c[i] == '_' && c[i + 1] == '_')) {
            *bad = c + i;
            *bad_len = sep;
            return COMPONENT_BAD_SEP;
        }
        i = j;
    }
    return COMPONENT_OK;
}

/* path := component ("/" component)*. */
static int check_path(const char *s, const char *path, struct crisp_err *err)
{
    char q[QUOTE_BUF], qc[QUOTE_BUF];
    size_t n = strlen(path);
    const char *comp = path;
    for (const char *p = path;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        size_t clen = (size_t)(p - comp);
        if (clen == 0) {
            const char *where = comp == path ? "starts with \"/\""
                                : *p == '\0' ? "ends with \"/\""
                                             : "has an empty component (\"//\")";
            return ref_error(err, s, "repository path %s %s (%s)", quote_part(q, path, n), where,
                             PATH_EXPECTED);
        }
        const char *bad = NULL;
        size_t bad_len = 0;
        switch (component_check(comp, clen, &bad, &bad_len)) {
        case COMPONENT_OK:
            break;
        case COMPONENT_BAD_CHAR:
            return ref_error(err, s, "repository path %s has invalid character %s (%s)",
                             quote_part(q, path, n), quote_part(qc, bad, bad_len), PATH_EXPECTED);
        case COMPONENT_BAD_EDGE:
            return ref_error(err, s,
                             "repository path component %s must start and end with a lowercase "
                             "letter or digit (%s)",
                             quote_part(q, comp, clen), PATH_EXPECTED);
        case COMPONENT_BAD_SEP:
            return ref_error(err, s, "repository path component %s has separator %s (%s)",
                             quote_part(q, comp, clen), quote_part(qc, bad, bad_len),
                             PATH_EXPECTED);
        }
        if (*p == '\0')
            break;
        comp = p + 1;
    }
    return 0;
}

static int check_tag(const char *s, const char *t, size_t n, struct crisp_err *err)
{
    char q[QUOTE_BUF], qc[QUOTE_BUF];
    if (n == 0)
        return ref_error(err, s, "tag is empty after \":\" (%s)", TAG_EXPECTED);
    if (n > TAG_MAX_LEN)
        return ref_error(err, s, "tag is %zu characters, at most %d allowed (%s)", n, TAG_MAX_LEN,
                         TAG_EXPECTED);
    if (!is_word(t[0]))
        return ref_error(err, s, "tag %s must start with a letter, a digit or \"_\" (%s)",
                         quote_part(q, t, n), TAG_EXPECTED);
    for (size_t i = 1; i < n; i++)
        if (!is_word(t[i]) && t[i] != '.' && t[i] != '-')
            return ref_error(err, s, "tag %s has invalid character %s (%s)", quote_part(q, t, n),
                             quote_part(qc, t + i, 1), TAG_EXPECTED);
    return 0;
}

/* The hex length go-digest requires for an algorithm it knows, else 0. */
static size_t digest_hex_len(const char *alg, size_t n)
{
    if (slice_eq(alg, n, "sha256"))
        return 64;
    if (slice_eq(alg, n, "sha384"))
        return 96;
    if (slice_eq(alg, n, "sha512"))
        return 128;
    return 0;
}

static int check_digest(const char *s, const char *d, size_t n, struct crisp_err *err)
{
    char q[QUOTE_BUF];
    if (n == 0)
        return ref_error(err, s, "digest is empty after \"@\" (%s)", DIGEST_EXPECT);
    const char *colon = memchr(d, ':', n);
    if (!colon || colon == d || colon == d + n - 1)
        return ref_error(err, s, "digest %s is not algorithm:hex (%s)", quote_part(q, d, n),
                         DIGEST_EXPECT);
    size_t alg_len = (size_t)(colon - d), hex_len = n - alg_len - 1;
    size_t want = digest_hex_len(d, alg_len);
    if (!want)
        return ref_error(err, s,
                         "digest algorithm %s is not supported (%s; sha384 and sha512 are also "
                         "accepted)",
                         quote_part(q, d, alg_len), DIGEST_EXPECT);
    if (!all_lower_hex(colon + 1, hex_len))
        return ref_error(err, s,
                         "digest %s has characters other than lowercase hex (expected "
                         "%.*s:<%zu lowercase hex>)",
                         quote_part(q, d, n), (int)alg_len, d, want);
    if (hex_len != want)
        return ref_error(err, s,
                         "digest %s has %zu hex characters (expected %.*s:<%zu lowercase hex>)",
                         quote_part(q, d, n), hex_len, (int)alg_len, d, want);
    return 0;
}

int crisp_image_ref_parse(const char *s, struct crisp_image_ref *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return ref_error(err, "", "the reference is empty (expected name[:tag][@digest])");
    size_t len = strlen(s);
    if (len == ID_HEX_LEN && all_lower_hex(s, len))
        return ref_error(err, s,
                         "repository name cannot be a 64-character hex string (that is an image "
                         "id)");

    /* '@' and ':' appear in no name part before them: the first '@' starts
     * the digest, and a ':' with no '/' after it (before the digest) starts
     * the tag; a domain's ":port" is always followed by "/path". */
    const char *at = strchr(s, '@');
    size_t head_len = at ? (size_t)(at - s) : len;
    const char *colon = NULL;
    for (size_t i = head_len; i-- > 0;) {
        if (s[i] == '/')
            break;
        if (s[i] == ':') {
            colon = s + i;
            break;
        }
    }
    size_t name_len = colon ? (size_t)(colon - s) : head_len;
    if (name_len == 0)
        return ref_error(err, s, "the repository name is empty (expected name[:tag][@digest])");

    /* docker's splitDockerDomain. */
    const char *domain = DEFAULT_DOMAIN, *path = s;
    size_t domain_len = strlen(DEFAULT_DOMAIN), path_len = name_len;
    bool domain_typed = false;
    const char *slash = memchr(s, '/', name_len);
    if (slash) {
        size_t first_len = (size_t)(slash - s);
        bool upper = false;
        for (size_t i = 0; i < first_len; i++)
            upper = upper || is_upper(s[i]);
        if (slice_eq(s, first_len, LEGACY_DOMAIN)) {
            path = slash + 1;
        } else if (slice_eq(s, first_len, LOCALHOST) || memchr(s, '.', first_len) ||
                   memchr(s, ':', first_len) || upper) {
            domain = s;
            domain_len = first_len;
            domain_typed = true;
            path = slash + 1;
        }
        path_len = name_len - (size_t)(path - s);
        if (path_len == 0) {
            char q[QUOTE_BUF];
            return ref_error(err, s, "the repository path after domain %s is empty (%s)",
                             quote_part(q, s, first_len), PATH_EXPECTED);
        }
    }
    bool official = slice_eq(domain, domain_len, DEFAULT_DOMAIN) && !memchr(path, '/', path_len);
    char *full_path =
        crisp_xasprintf("%s%.*s", official ? OFFICIAL_PREFIX : "", (int)path_len, path);
    int r = 0;

    /* Upstream checks case first, so "Busybox" gets this message rather than
     * a grammar one. */
    for (const char *p = full_path; *p; p++)
        if (is_upper(*p)) {
            r = ref_error(err, s, "repository name must be lowercase");
            goto fail;
        }
    /* A typed domain that is not a host name but is a valid path component
     * ("my_reg.io") is matched by distribution's grammar as the first path
     * component of a domain-less name with the same string form; keep it. */
    size_t checked_len = strlen(full_path);
    if (domain_typed && check_domain(s, domain, domain_len, NULL) < 0) {
        const char *bad;
        size_t bad_len;
        if (component_check(domain, domain_len, &bad, &bad_len) != COMPONENT_OK) {
            r = check_domain(s, domain, domain_len, err);
            goto fail;
        }
        checked_len += domain_len + 1;
    }
    r = check_path(s, full_path, err);
    if (r < 0)
        goto fail;
    if (checked_len > PATH_MAX_LEN) {
        r = ref_error(err, s, "the repository path is %zu characters, at most %d allowed",
                      checked_len, PATH_MAX_LEN);
        goto fail;
    }
    if (colon) {
        r = check_tag(s, colon + 1, head_len - name_len - 1, err);
        if (r < 0)
            goto fail;
    }
    if (at) {
        r = check_digest(s, at + 1, len - head_len - 1, err);
        if (r < 0)
            goto fail;
    }

    out->domain = crisp_xasprintf("%.*s", (int)domain_len, domain);
    out->path = full_path;
    if (colon)
        out->tag = crisp_xasprintf("%.*s", (int)(head_len - name_len - 1), colon + 1);
    else if (!at)
        out->tag = crisp_xstrdup(DEFAULT_TAG);
    if (at)
        out->digest = crisp_xstrdup(at + 1);
    return 0;

fail:
    free(full_path);
    return r;
}

void crisp_image_ref_free(struct crisp_image_ref *ref)
{
    if (!ref)
        return;
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof(*ref));
}

char *crisp_image_ref_name(const struct crisp_image_ref *ref)
{
    return crisp_xasprintf("%s/%s", ref->domain, ref->path);
}

char *crisp_image_ref_string(const struct crisp_image_ref *ref)
{
    return crisp_xasprintf("%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "",
                           ref->tag ? ref->tag : "", ref->digest ? "@" : "",
                           ref->digest ? ref->digest : "");
}

char *crisp_image_ref_repo_tag(const struct crisp_image_ref *ref)
{
    if (!ref->tag)
        return NULL;
    return crisp_xasprintf("%s/%s:%s", ref->domain, ref->path, ref->tag);
}

char *crisp_image_ref_repo_digest(const struct crisp_image_ref *ref, const char *digest)
{
    if (!digest)
        digest = ref->digest;
    if (!digest)
        return NULL;
    return crisp_xasprintf("%s/%s@%s", ref->domain, ref->path, digest);
}

bool crisp_digest_valid(const char *digest)
{
    return digest && strncmp(digest, "sha256:", 7) == 0 && strlen(digest + 7) == ID_HEX_LEN &&
           all_lower_hex(digest + 7, ID_HEX_LEN);
}

bool crisp_image_id_parse(const char *s, char out[72])
{
    out[0] = '\0';
    if (!s)
        return false;
    const char *hex = strncmp(s, "sha256:", 7) == 0 ? s + 7 : s;
    if (strlen(hex) != ID_HEX_LEN || !all_lower_hex(hex, ID_HEX_LEN))
        return false;
    memcpy(out, "sha256:", 7);
    memcpy(out + 7, hex, ID_HEX_LEN + 1);
    return true;
}
