/*
 * reload.h - what a configuration reload (SIGHUP) may change while the
 * bridge runs, and which keys it changed.
 *
 * Pure: two parsed configurations in, key names out; no I/O of its own
 * beyond conf_dump into memory. main.c applies the result.
 */
#ifndef SMPPBRIDGE_RELOAD_H
#define SMPPBRIDGE_RELOAD_H

#include <stddef.h>

struct conf;

/*
 * Compare the running configuration <old> with the freshly loaded <next>
 * outside the [upstream NAME] sections (upstream.c compares those).
 * Keys that cannot change while running - [server] and [tls] listen,
 * [admin] listen, and all of [redis] (the store holds its connection and
 * its copy of the section) - get their old values back in <next> and are
 * named in <restart>; every other changed key is named in <changed>. Names
 * look like "[server] window", separated by ", "; "" when none. Returns
 * the number of keys named in both.
 */
int reload_merge(const struct conf *old, struct conf *next, char *changed,
                 size_t ccap, char *restart, size_t rcap);

#endif /* SMPPBRIDGE_RELOAD_H */
