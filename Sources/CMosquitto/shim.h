// libmosquitto (Debian libmosquitto-dev): the MQTT client behind the daemon's mqtt sink.
#include <mosquitto.h>
