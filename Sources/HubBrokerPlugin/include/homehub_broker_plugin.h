/* homehub's mosquitto plugin: built as libhomehub-broker-plugin.so and loaded by the embedded
   broker (`plugin` in the generated mosquitto.conf). Its only interface is mosquitto's plugin
   API (version 5); see broker_plugin.c and docs/security.md. */
#ifndef HOMEHUB_BROKER_PLUGIN_H
#define HOMEHUB_BROKER_PLUGIN_H
#define HOMEHUB_IDENTITY_PROPERTY "homehub-identity"
#define HOMEHUB_DENIED_TOPIC "$homehub/broker/denied"
#endif
