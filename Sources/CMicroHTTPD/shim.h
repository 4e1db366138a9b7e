// libmicrohttpd (Debian libmicrohttpd-dev): the daemon's loopback metrics and health server.
// MHD_start_daemon and MHD_get_daemon_info are variadic, which Swift cannot call: the inline
// wrappers below fix their arguments.
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

/// Starts a server with its own polling thread on `address` (IPv4 or IPv6; port 0 picks one).
static inline struct MHD_Daemon *qrt_mhd_start(const struct sockaddr *address,
                                               MHD_AccessHandlerCallback handler, void *context) {
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (address->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, context,
                            MHD_OPTION_SOCK_ADDR, address,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                            MHD_OPTION_END);
}

/// The port the server listens on (useful after asking for port 0); 0 if unknown.
static inline uint16_t qrt_mhd_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
