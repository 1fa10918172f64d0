#ifndef HOMEHUB_CMOSQUITTO_SHIM_H
#define HOMEHUB_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
