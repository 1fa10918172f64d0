#ifndef HOMEHUB_CSYSTEMD_SHIM_H
#define HOMEHUB_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif
