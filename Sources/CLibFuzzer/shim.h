// libFuzzer's driver, for homehub-fuzz built with -sanitize=fuzzer (make fuzz). SwiftPM gives
// an executable its own entry point, so homehub-fuzz's main hands control to libFuzzer here
// instead of linking libFuzzer's main.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
