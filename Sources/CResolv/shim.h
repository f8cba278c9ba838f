#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <string.h>

// glibc spells several of these as macros (res_ninit is __res_ninit, ns_msg_count reads a field), and
// `struct __res_state` shares its name with a function; these wrappers give Swift plain functions.

typedef struct __res_state relaygate_res_state;

static inline int relaygate_res_ninit(relaygate_res_state *state) { return res_ninit(state); }
static inline void relaygate_res_nclose(relaygate_res_state *state) { res_nclose(state); }

static inline int relaygate_res_nquery(relaygate_res_state *state, const char *name, int type,
                                       unsigned char *answer, int length) {
    return res_nquery(state, name, ns_c_in, type, answer, length);
}

static inline int relaygate_res_h_errno(const relaygate_res_state *state) { return state->res_h_errno; }

/// Asks only this name server (IPv4, any port), with short timeouts.
static inline void relaygate_res_use_server(relaygate_res_state *state, const char *address, int port) {
    struct sockaddr_in server;
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, address, &server.sin_addr);
    state->nsaddr_list[0] = server;
    state->nscount = 1;
    state->retrans = 1;
    state->retry = 2;
}

static inline int relaygate_ns_answer_count(const ns_msg *message) { return ns_msg_count(*message, ns_s_an); }
