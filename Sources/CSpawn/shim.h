#ifndef HOMEHUB_CSPAWN_SHIM_H
#define HOMEHUB_CSPAWN_SHIM_H
#include <spawn.h>

/* glibc 2.34+ declares this only under _GNU_SOURCE, which Swift's Glibc module does not set.
   Children must not inherit the hub's descriptors (the control socket, the database, other
   plugins' pipes): every descriptor from 3 up is closed in the child. */
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

static inline int homehub_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
#endif
