/*
 * fuzz_admin_json.c - libFuzzer target for the admin server's parser of
 * request bodies (admin_json_object(), PUT /accounts/ID).
 *
 * The input is a body exactly as a client sends it (not NUL-terminated).
 * Checks, each with a trap:
 *  - the result is -1 or a member count no larger than the room given;
 *  - on failure the message is a non-empty C string;
 *  - every key and value is a NUL-terminated string inside its array,
 *    keys are distinct, and literals carry an empty value;
 *  - parsing is deterministic: the same input gives the same members.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "admin.h"

#define ROOM 8

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static struct admin_json_member first[ROOM], again[ROOM];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160], err2[160];
    err[0] = '\0';
    int n = admin_json_object((const char *)data, size, first, ROOM, err, sizeof err);
    check(n >= -1 && n <= ROOM);
    if (n < 0) {
        check(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        check(memchr(first[i].key, '\0', sizeof first[i].key) != NULL);
        check(memchr(first[i].value, '\0', sizeof first[i].value) != NULL);
        if (first[i].type == ADMIN_JSON_TRUE || first[i].type == ADMIN_JSON_FALSE ||
            first[i].type == ADMIN_JSON_NULL)
            check(first[i].value[0] == '\0');
        for (int k = 0; k < i; k++)
            check(strcmp(first[i].key, first[k].key) != 0);
    }
    check(admin_json_object((const char *)data, size, again, ROOM, err2,
                            sizeof err2) == n);
    for (int i = 0; i < n; i++)
        check(first[i].type == again[i].type &&
              strcmp(first[i].key, again[i].key) == 0 &&
              strcmp(first[i].value, again[i].value) == 0);
    return 0;
}
