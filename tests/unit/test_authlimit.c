/* Unit tests of src/server/authlimit: the keys of client addresses, the
 * throttling of an address that failed often (and only that address), the
 * cap on authentications at once, and forgetting. Times are made up, so
 * nothing sleeps; each test uses addresses of its own (the state is
 * global). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "server/authlimit.h"

static void key_of(int family, const char *text, char out[AUTH_PEER_LEN])
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		assert_int_equal(inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr), 1);
	else
		assert_int_equal(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	authlimit_peer((struct sockaddr *)&ss, out);
}

static void test_peer_keys(void **state)
{
	(void)state;
	char k[AUTH_PEER_LEN];
	key_of(AF_INET, "192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
	key_of(AF_INET6, "::ffff:192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
	key_of(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	authlimit_peer(NULL, k);
	assert_string_equal(k, "");
	/* IPv4 keys are inet_ntop's text, every octet value in every place */
	for (unsigned v = 0; v < 256; v++) {
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		unsigned char *a = (unsigned char *)&sin.sin_addr;
		a[0] = (unsigned char)v, a[1] = (unsigned char)(255 - v), a[2] = (unsigned char)(v / 3),
		a[3] = (unsigned char)(v * 7);
		char want[INET_ADDRSTRLEN];
		assert_non_null(inet_ntop(AF_INET, &sin.sin_addr, want, sizeof want));
		authlimit_peer((struct sockaddr *)&sin, k);
		assert_string_equal(k, want);
	}
}

/* One check from peer at now: whether it could start (then it fails). */
static enum auth_turn fail_once(const char *peer, int64_t now, int64_t *retry)
{
	enum auth_turn t = authlimit_start(peer, now, retry);
	if (t == AUTH_GO)
		authlimit_done(peer, false, now);
	return t;
}

static void test_throttled_after_failures(void **state)
{
	(void)state;
	int64_t now = 1000000, retry = 0;
	for (int i = 0; i < 3; i++) /* free */
		assert_int_equal(fail_once("198.51.100.1", now, &retry), AUTH_GO);
	/* the first throttled check starts at once; the next a second later */
	assert_int_equal(fail_once("198.51.100.1", now, &retry), AUTH_GO);
	assert_int_equal(fail_once("198.51.100.1", now + 10, &retry), AUTH_THROTTLED);
	assert_int_equal(retry, now + 1000);
	assert_int_equal(fail_once("198.51.100.1", now + 1000, &retry), AUTH_GO);
	/* another address is not slowed */
	assert_int_equal(fail_once("198.51.100.2", now + 1001, &retry), AUTH_GO);
	/* a success ends the throttling */
	assert_int_equal(authlimit_start("198.51.100.1", now + 2000, &retry), AUTH_GO);
	authlimit_done("198.51.100.1", true, now + 2000);
	assert_int_equal(fail_once("198.51.100.1", now + 2001, &retry), AUTH_GO);
	assert_int_equal(fail_once("198.51.100.1", now + 2002, &retry), AUTH_GO);
}

static void test_forgotten_after_quiet(void **state)
{
	(void)state;
	int64_t now = 2000000, retry = 0;
	for (int i = 0; i < 4; i++)
		fail_once("198.51.100.3", now, &retry);
	assert_int_equal(fail_once("198.51.100.3", now + 1, &retry), AUTH_THROTTLED);
	now += 61000; /* a minute without failures */
	for (int i = 0; i < 4; i++)
		assert_int_equal(fail_once("198.51.100.3", now, &retry), AUTH_GO);
}

static void test_concurrent_cap(void **state)
{
	(void)state;
	int64_t now = 3000000, retry = 0;
	assert_int_equal(authlimit_start("198.51.100.4", now, &retry), AUTH_GO);
	assert_int_equal(authlimit_start("198.51.100.5", now, &retry), AUTH_GO);
	assert_int_equal(authlimit_start("198.51.100.6", now, &retry), AUTH_BUSY);
	assert_true(retry > now && retry < now + 100);
	authlimit_done("198.51.100.4", true, now);
	assert_int_equal(authlimit_start("198.51.100.6", now, &retry), AUTH_GO);
	authlimit_done("198.51.100.5", true, now);
	authlimit_done("198.51.100.6", true, now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_keys),
		cmocka_unit_test(test_throttled_after_failures),
		cmocka_unit_test(test_forgotten_after_quiet),
		cmocka_unit_test(test_concurrent_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
