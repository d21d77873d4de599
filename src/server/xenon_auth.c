/* xenon-auth: checks one account's password with PAM (service "xenon"),
 * for xenond. Reads "user\0password\0" on standard input; exits 0 when PAM
 * authenticates the user and its account is usable, 1 when not, 2 on bad
 * input. A process of its own, so PAM modules (pam_unix and its crypt,
 * SSSD's client) never run inside the daemon, and a module that sleeps
 * after a failure holds no thread of it. */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	const char *password = data;
	struct pam_response *r = calloc((size_t)n, sizeof *r);
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			r[i].resp = strdup(password);
	*resp = r;
	return PAM_SUCCESS;
}

#ifdef PAM_FAIL_DELAY
static void no_fail_delay(int status, unsigned int usec, void *data)
{
	(void)status;
	(void)usec;
	(void)data; /* xenond delays the answer itself, without a thread */
}
#endif

int main(void)
{
	static char buf[4096];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof buf - 1 && (r = read(0, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	const char *user = buf;
	size_t ul = strnlen(buf, n);
	if (ul == 0 || ul >= n)
		return 2;
	const char *password = buf + ul + 1;
	struct pam_conv c = {conv, (void *)password};
	pam_handle_t *h = NULL;
	if (pam_start("xenon", user, &c, &h) != PAM_SUCCESS)
		return 1;
#ifdef PAM_FAIL_DELAY
	pam_set_item(h, PAM_FAIL_DELAY, (const void *)no_fail_delay);
#endif
	int rc = pam_authenticate(h, PAM_SILENT);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT);
	pam_end(h, rc);
	memset(buf, 0, sizeof buf);
	return rc == PAM_SUCCESS ? 0 : 1;
}
