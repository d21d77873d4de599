/* An OVA's descriptor (.ovf) and the VM made from it; the package's
 * member names and the body sniffing of /import. */
#include "formats/ova.h"
#include "formats/ovf.h"

#include "base/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR); /* refusals are expected: no line each */
	char *p = malloc(size + 1);
	memcpy(p, data, size);
	p[size] = '\0';
	(void)ova_body_kind(p, size);
	(void)ova_member_kind(p, size);
	struct ovf o;
	struct xerr err = {0};
	if (ovf_parse(p, size, &o, &err) == 0) {
		struct ova_vm vm;
		if (ova_vm_from_ovf(&o, &vm, &err) == 0) {
			if (!vm.name || !*vm.name || vm.vcpus < 1 || vm.memory <= 0 || !vm.ndisks)
				abort(); /* what ova.h promises */
			ova_vm_free(&vm);
		}
		ovf_free(&o);
	}
	xerr_clear(&err);
	free(p);
	return 0;
}
