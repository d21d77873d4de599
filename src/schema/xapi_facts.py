# Facts about the XenAPI datamodel (classes, relations, field defaults, async-capable messages)
# and the xe CLI's record printing, as defined by the reference toolstack's datamodel and CLI.

"""XenAPI datamodel facts used to build Xenon's schema tables.

Values were obtained by evaluating the reference datamodel (all_api plus its
relations list) and by reading the xe CLI record definitions; see the comments
next to each table for caveats.  Pure data: no behaviour lives here.
"""

# Source revision the facts were taken from: xapi-project/xen-api commit
# e2ee48d6883e0b98c4d219d3f0778a10c6655607.  Classes/fields/messages that are
# 'prototyped' there may change in later revisions.

# Class names are the datamodel object names as used on the wire (e.g. "VM", "host",
# "SR", "pool", "Cluster_host").  Field names are wire names (namespaces joined by '_').

# ---------------------------------------------------------------------------
# RELATIONS: one-to-many bindings from the datamodel's relations list, in the
# list's order, normalised as ((class, ref_field), (class, set_field)): the first
# element is the single 'X ref' field, the second the 'X ref set' field that is
# derived from it.  xapi's DB layer maintains the set side from the ref side; the
# set side is DynamicRO (no wire setter) and is not persisted (it is rebuilt from
# the ref side on load) -- except PVS_site.cache_storage, which is flagged to
# ignore the foreign key and so is persisted too.  All 64 entries of xapi's list were kept
# (none is dropped by its consistency filter); 55 are one-to-many, 9 many-to-many.
RELATIONS = [
    (('VM', 'snapshot_of'), ('VM', 'snapshots')),
    (('VDI', 'snapshot_of'), ('VDI', 'snapshots')),
    (('VM', 'parent'), ('VM', 'children')),
    (('task', 'subtask_of'), ('task', 'subtasks')),
    (('task', 'session'), ('session', 'tasks')),  # task.session internal-only (not on the wire)
    (('PIF', 'bond_slave_of'), ('Bond', 'slaves')),
    (('Bond', 'master'), ('PIF', 'bond_master_of')),
    (('VLAN', 'tagged_PIF'), ('PIF', 'VLAN_slave_of')),
    (('tunnel', 'access_PIF'), ('PIF', 'tunnel_access_PIF_of')),
    (('tunnel', 'transport_PIF'), ('PIF', 'tunnel_transport_PIF_of')),
    (('PBD', 'host'), ('host', 'PBDs')),
    (('PBD', 'SR'), ('SR', 'PBDs')),
    (('VBD', 'VDI'), ('VDI', 'VBDs')),
    (('crashdump', 'VDI'), ('VDI', 'crash_dumps')),  # class deprecated
    (('VBD', 'VM'), ('VM', 'VBDs')),
    (('crashdump', 'VM'), ('VM', 'crash_dumps')),  # class deprecated
    (('VIF', 'VM'), ('VM', 'VIFs')),
    (('VIF', 'network'), ('network', 'VIFs')),
    (('Cluster_host', 'cluster'), ('Cluster', 'cluster_hosts')),
    (('PIF', 'host'), ('host', 'PIFs')),
    (('PIF', 'network'), ('network', 'PIFs')),
    (('VDI', 'SR'), ('SR', 'VDIs')),
    (('VTPM', 'VM'), ('VM', 'VTPMs')),  # class prototyped
    (('console', 'VM'), ('VM', 'consoles')),
    (('VM', 'resident_on'), ('host', 'resident_VMs')),
    (('host_cpu', 'host'), ('host', 'host_CPUs')),  # class deprecated
    (('host_crashdump', 'host'), ('host', 'crashdumps')),
    (('host_patch', 'host'), ('host', 'patches')),  # class deprecated; host.patches deprecated
    (('host_patch', 'pool_patch'), ('pool_patch', 'host_patches')),  # class deprecated; class deprecated
    (('VM', 'protection_policy'), ('VMPP', 'VMs')),  # VM.protection_policy deprecated; class removed; VMPP.VMs removed
    (('VM', 'snapshot_schedule'), ('VMSS', 'VMs')),
    (('VM', 'appliance'), ('VM_appliance', 'VMs')),
    (('PGPU', 'GPU_group'), ('GPU_group', 'PGPUs')),
    (('VGPU', 'GPU_group'), ('GPU_group', 'VGPUs')),
    (('VGPU', 'type'), ('VGPU_type', 'VGPUs')),
    (('VGPU', 'VM'), ('VM', 'VGPUs')),
    (('VGPU', 'resident_on'), ('PGPU', 'resident_VGPUs')),
    (('PCI', 'host'), ('host', 'PCIs')),
    (('PGPU', 'host'), ('host', 'PGPUs')),
    (('PCI', 'physical_function'), ('PCI', 'virtual_functions')),  # PCI.physical_function internal-only (not on the wire); PCI.virtual_functions internal-only (not on the wire)
    (('VDI', 'metadata_of_pool'), ('pool', 'metadata_VDIs')),
    (('SR', 'introduced_by'), ('DR_task', 'introduced_SRs')),
    (('PVS_server', 'site'), ('PVS_site', 'servers')),
    (('PVS_proxy', 'site'), ('PVS_site', 'proxies')),
    (('PVS_cache_storage', 'site'), ('PVS_site', 'cache_storage')),
    (('PUSB', 'host'), ('host', 'PUSBs')),
    (('PUSB', 'USB_group'), ('USB_group', 'PUSBs')),
    (('VUSB', 'USB_group'), ('USB_group', 'VUSBs')),
    (('VUSB', 'VM'), ('VM', 'VUSBs')),
    (('Feature', 'host'), ('host', 'features')),
    (('network_sriov', 'physical_PIF'), ('PIF', 'sriov_physical_PIF_of')),
    (('network_sriov', 'logical_PIF'), ('PIF', 'sriov_logical_PIF_of')),
    (('Certificate', 'host'), ('host', 'certificates')),
    (('Driver_variant', 'driver'), ('Host_driver', 'variants')),  # class prototyped; Driver_variant.driver prototyped; class prototyped; Host_driver.variants prototyped
    (('Caller', 'rate_limit'), ('Rate_limit', 'callers')),  # class prototyped; Caller.rate_limit prototyped; class prototyped; Rate_limit.callers prototyped
]

# MANY_TO_MANY: relations in xapi's list where both sides are 'ref set' fields,
# in list order.  xapi's convention: the FIRST field is the one that xapi's own
# code writes (all of them are read-only on the wire), the SECOND is kept up to
# date automatically by the DB layer.  Both columns are persisted.  Two entries pair a field
# with itself (subject.roles, role.subroles): such a field is an ordinary stored
# ref set with no derived counterpart.
MANY_TO_MANY = [
    (('host', 'updates'), ('pool_update', 'hosts')),
    (('subject', 'roles'), ('subject', 'roles')),  # self-relation
    (('role', 'subroles'), ('role', 'subroles')),  # self-relation
    (('PGPU', 'supported_VGPU_types'), ('VGPU_type', 'supported_on_PGPUs')),
    (('PGPU', 'enabled_VGPU_types'), ('VGPU_type', 'enabled_on_PGPUs')),
    (('GPU_group', 'supported_VGPU_types'), ('VGPU_type', 'supported_on_GPU_groups')),
    (('GPU_group', 'enabled_VGPU_types'), ('VGPU_type', 'enabled_on_GPU_groups')),
    (('PCI', 'attached_VMs'), ('VM', 'attached_PCIs')),  # PCI.attached_VMs internal-only (not on the wire)
    (('VM', 'groups'), ('VM_group', 'VMs')),  # VM.groups prototyped; class prototyped; VM_group.VMs prototyped
]

# The relations list exactly as xapi orders it (first element as written there).
ALL_RELATIONS_XAPI_ORDER = [
    (('VM', 'snapshot_of'), ('VM', 'snapshots')),
    (('VDI', 'snapshot_of'), ('VDI', 'snapshots')),
    (('VM', 'parent'), ('VM', 'children')),
    (('task', 'subtask_of'), ('task', 'subtasks')),
    (('task', 'session'), ('session', 'tasks')),
    (('PIF', 'bond_slave_of'), ('Bond', 'slaves')),
    (('Bond', 'master'), ('PIF', 'bond_master_of')),
    (('VLAN', 'tagged_PIF'), ('PIF', 'VLAN_slave_of')),
    (('tunnel', 'access_PIF'), ('PIF', 'tunnel_access_PIF_of')),
    (('tunnel', 'transport_PIF'), ('PIF', 'tunnel_transport_PIF_of')),
    (('PBD', 'host'), ('host', 'PBDs')),
    (('PBD', 'SR'), ('SR', 'PBDs')),
    (('VBD', 'VDI'), ('VDI', 'VBDs')),
    (('crashdump', 'VDI'), ('VDI', 'crash_dumps')),
    (('VBD', 'VM'), ('VM', 'VBDs')),
    (('crashdump', 'VM'), ('VM', 'crash_dumps')),
    (('VIF', 'VM'), ('VM', 'VIFs')),
    (('VIF', 'network'), ('network', 'VIFs')),
    (('Cluster_host', 'cluster'), ('Cluster', 'cluster_hosts')),
    (('PIF', 'host'), ('host', 'PIFs')),
    (('PIF', 'network'), ('network', 'PIFs')),
    (('VDI', 'SR'), ('SR', 'VDIs')),
    (('VTPM', 'VM'), ('VM', 'VTPMs')),
    (('console', 'VM'), ('VM', 'consoles')),
    (('VM', 'resident_on'), ('host', 'resident_VMs')),
    (('host_cpu', 'host'), ('host', 'host_CPUs')),
    (('host_crashdump', 'host'), ('host', 'crashdumps')),
    (('host_patch', 'host'), ('host', 'patches')),
    (('host_patch', 'pool_patch'), ('pool_patch', 'host_patches')),
    (('host', 'updates'), ('pool_update', 'hosts')),
    (('subject', 'roles'), ('subject', 'roles')),
    (('role', 'subroles'), ('role', 'subroles')),
    (('VM', 'protection_policy'), ('VMPP', 'VMs')),
    (('VM', 'snapshot_schedule'), ('VMSS', 'VMs')),
    (('VM', 'appliance'), ('VM_appliance', 'VMs')),
    (('PGPU', 'GPU_group'), ('GPU_group', 'PGPUs')),
    (('VGPU', 'GPU_group'), ('GPU_group', 'VGPUs')),
    (('VGPU', 'type'), ('VGPU_type', 'VGPUs')),
    (('VGPU', 'VM'), ('VM', 'VGPUs')),
    (('VGPU', 'resident_on'), ('PGPU', 'resident_VGPUs')),
    (('PGPU', 'supported_VGPU_types'), ('VGPU_type', 'supported_on_PGPUs')),
    (('PGPU', 'enabled_VGPU_types'), ('VGPU_type', 'enabled_on_PGPUs')),
    (('GPU_group', 'supported_VGPU_types'), ('VGPU_type', 'supported_on_GPU_groups')),
    (('GPU_group', 'enabled_VGPU_types'), ('VGPU_type', 'enabled_on_GPU_groups')),
    (('PCI', 'host'), ('host', 'PCIs')),
    (('PGPU', 'host'), ('host', 'PGPUs')),
    (('PCI', 'attached_VMs'), ('VM', 'attached_PCIs')),
    (('PCI', 'physical_function'), ('PCI', 'virtual_functions')),
    (('VDI', 'metadata_of_pool'), ('pool', 'metadata_VDIs')),
    (('SR', 'introduced_by'), ('DR_task', 'introduced_SRs')),
    (('PVS_server', 'site'), ('PVS_site', 'servers')),
    (('PVS_proxy', 'site'), ('PVS_site', 'proxies')),
    (('PVS_cache_storage', 'site'), ('PVS_site', 'cache_storage')),
    (('PUSB', 'host'), ('host', 'PUSBs')),
    (('PUSB', 'USB_group'), ('USB_group', 'PUSBs')),
    (('VUSB', 'USB_group'), ('USB_group', 'VUSBs')),
    (('VUSB', 'VM'), ('VM', 'VUSBs')),
    (('Feature', 'host'), ('host', 'features')),
    (('network_sriov', 'physical_PIF'), ('PIF', 'sriov_physical_PIF_of')),
    (('network_sriov', 'logical_PIF'), ('PIF', 'sriov_logical_PIF_of')),
    (('Certificate', 'host'), ('host', 'certificates')),
    (('VM', 'groups'), ('VM_group', 'VMs')),
    (('Driver_variant', 'driver'), ('Host_driver', 'variants')),
    (('Caller', 'rate_limit'), ('Rate_limit', 'callers')),
]

# ---------------------------------------------------------------------------
# DEFAULTS: every field default declared in the datamodel (~default_value, including
# those supplied by the datamodel's helper constructors such as the
# allowed/current_operations helpers), as JSON text in JSON-RPC wire form.
# Datetimes use xapi's wire format (19700101T00:00:00Z is the epoch default).
# Floats are written as JSON floats (e.g. 1.0).  Every field of every class is
# included, even internal-only ones (see INTERNAL_ONLY_FIELDS; those never appear
# in wire records).  Fields of type 'X ref set' never carry a declared default;
# xapi's DB layer always uses an empty set for them.  Fields with no entry here have
# no declared default, i.e. they must be supplied at creation time (or are filled by
# code) -- the DB's 'empty' value for them is ""/0/0.0/false/epoch/first enum value
# /[]/{}/OpaqueRef:NULL by type.
DEFAULTS = {
    # --- session
    ('session', 'other_config'): '{}',
    ('session', 'is_local_superuser'): 'false',
    ('session', 'subject'): '"OpaqueRef:NULL"',
    ('session', 'validation_time'): '"19700101T00:00:00Z"',
    ('session', 'auth_user_sid'): '""',
    ('session', 'auth_user_name'): '""',
    ('session', 'rbac_permissions'): '[]',
    ('session', 'parent'): '"OpaqueRef:NULL"',
    ('session', 'originator'): '""',
    ('session', 'client_certificate'): 'false',
    # --- subject
    ('subject', 'subject_identifier'): '""',
    ('subject', 'other_config'): '{}',
    ('subject', 'roles'): '["OpaqueRef:0165f154-ba3e-034e-6b27-5d271af109ba"]',  # the built-in pool-admin role ref
    # --- role
    ('role', 'name_label'): '""',
    ('role', 'name_description'): '""',
    ('role', 'subroles'): '[]',
    ('role', 'is_internal'): 'false',
    # --- task
    ('task', 'name_label'): '""',
    ('task', 'name_description'): '""',
    ('task', 'allowed_operations'): '[]',
    ('task', 'current_operations'): '{}',
    ('task', 'other_config'): '{}',
    ('task', 'subtask_of'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('task', 'backtrace'): '"()"',  # S-expression of an empty backtrace
    # --- pool
    ('pool', 'ha_enabled'): 'false',
    ('pool', 'ha_configuration'): '{}',
    ('pool', 'ha_statefiles'): '[]',
    ('pool', 'ha_host_failures_to_tolerate'): '0',
    ('pool', 'ha_plan_exists_for'): '0',
    ('pool', 'ha_allow_overcommit'): 'false',
    ('pool', 'ha_overcommitted'): 'false',
    ('pool', 'blobs'): '{}',
    ('pool', 'tags'): '[]',
    ('pool', 'gui_config'): '{}',
    ('pool', 'health_check_config'): '{}',
    ('pool', 'wlb_url'): '""',
    ('pool', 'wlb_username'): '""',
    ('pool', 'wlb_enabled'): 'false',
    ('pool', 'wlb_verify_cert'): 'false',  # deprecated
    ('pool', 'redo_log_enabled'): 'false',
    ('pool', 'redo_log_vdi'): '"OpaqueRef:NULL"',
    ('pool', 'vswitch_controller'): '""',  # deprecated
    ('pool', 'restrictions'): '{}',
    ('pool', 'ha_cluster_stack'): '""',
    ('pool', 'allowed_operations'): '[]',
    ('pool', 'current_operations'): '{}',
    ('pool', 'guest_agent_config'): '{}',
    ('pool', 'cpu_info'): '{}',
    ('pool', 'policy_no_vendor_device'): 'false',  # deprecated
    ('pool', 'live_patching_disabled'): 'false',
    ('pool', 'igmp_snooping_enabled'): 'false',
    ('pool', 'uefi_certificates'): '""',
    ('pool', 'custom_uefi_certificates'): '""',  # prototyped
    ('pool', 'is_psr_pending'): 'false',
    ('pool', 'tls_verification_enabled'): 'false',
    ('pool', 'repositories'): '[]',
    ('pool', 'client_certificate_auth_enabled'): 'false',
    ('pool', 'client_certificate_auth_name'): '""',
    ('pool', 'repository_proxy_url'): '""',
    ('pool', 'repository_proxy_username'): '""',
    ('pool', 'repository_proxy_password'): '"OpaqueRef:NULL"',
    ('pool', 'migration_compression'): 'false',  # prototyped
    ('pool', 'coordinator_bias'): 'true',
    ('pool', 'local_auth_max_threads'): '8',  # prototyped
    ('pool', 'ext_auth_max_threads'): '1',  # prototyped
    ('pool', 'ext_auth_cache_enabled'): 'true',  # prototyped
    ('pool', 'ext_auth_cache_size'): '50',  # prototyped
    ('pool', 'ext_auth_cache_expiry'): '300',  # prototyped
    ('pool', 'telemetry_uuid'): '"OpaqueRef:NULL"',  # prototyped
    ('pool', 'telemetry_frequency'): '"weekly"',  # prototyped
    ('pool', 'telemetry_next_collection'): '"19700101T00:00:00Z"',  # prototyped
    ('pool', 'last_update_sync'): '"19700101T00:00:00Z"',  # prototyped
    ('pool', 'update_sync_frequency'): '"weekly"',  # prototyped
    ('pool', 'update_sync_day'): '0',  # prototyped
    ('pool', 'update_sync_enabled'): 'false',  # prototyped
    ('pool', 'recommendations'): '{}',  # prototyped
    ('pool', 'license_server'): '{}',  # prototyped
    ('pool', 'ha_reboot_vm_on_internal_shutdown'): 'true',  # prototyped
    ('pool', 'limit_console_sessions'): 'false',  # prototyped
    ('pool', 'vm_console_idle_timeout'): '0',  # prototyped
    ('pool', 'auto_update_vm_secureboot_certificates'): 'false',  # prototyped
    # --- pool_patch (class deprecated)
    ('pool_patch', 'name_label'): '""',
    ('pool_patch', 'name_description'): '""',
    ('pool_patch', 'version'): '""',
    ('pool_patch', 'filename'): '""',  # internal-only, not on the wire
    ('pool_patch', 'size'): '0',
    ('pool_patch', 'pool_applied'): 'false',
    ('pool_patch', 'after_apply_guidance'): '[]',
    ('pool_patch', 'pool_update'): '"OpaqueRef:NULL"',
    ('pool_patch', 'other_config'): '{}',
    # --- pool_update
    ('pool_update', 'name_label'): '""',
    ('pool_update', 'name_description'): '""',
    ('pool_update', 'version'): '""',
    ('pool_update', 'installation_size'): '0',
    ('pool_update', 'key'): '""',
    ('pool_update', 'after_apply_guidance'): '[]',
    ('pool_update', 'other_config'): '{}',
    ('pool_update', 'enforce_homogeneity'): 'false',
    # --- VM
    ('VM', 'allowed_operations'): '[]',
    ('VM', 'current_operations'): '{}',
    ('VM', 'name_label'): '""',
    ('VM', 'name_description'): '""',
    ('VM', 'power_state'): '"Halted"',
    ('VM', 'is_default_template'): 'false',
    ('VM', 'suspend_VDI'): '"OpaqueRef:NULL"',
    ('VM', 'scheduled_to_be_resident_on'): '"OpaqueRef:NULL"',
    ('VM', 'memory_overhead'): '0',
    ('VM', 'memory_target'): '0',  # deprecated
    ('VM', 'actions_after_softreboot'): '"soft_reboot"',  # prototyped
    ('VM', 'HVM_shadow_multiplier'): '1.0',
    ('VM', 'last_boot_CPU_flags'): '{}',
    ('VM', 'last_booted_record'): '""',
    ('VM', 'xenstore_data'): '{}',
    ('VM', 'ha_always_run'): 'false',  # deprecated
    ('VM', 'ha_restart_priority'): '""',
    ('VM', 'is_a_snapshot'): 'false',
    ('VM', 'snapshot_of'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('VM', 'snapshot_time'): '"19700101T00:00:00Z"',
    ('VM', 'transportable_snapshot_id'): '""',
    ('VM', 'blobs'): '{}',
    ('VM', 'tags'): '[]',
    ('VM', 'blocked_operations'): '{}',
    ('VM', 'snapshot_info'): '{}',
    ('VM', 'snapshot_metadata'): '""',
    ('VM', 'parent'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('VM', 'bios_strings'): '{}',
    ('VM', 'protection_policy'): '"OpaqueRef:NULL"',  # deprecated
    ('VM', 'is_snapshot_from_vmpp'): 'false',  # removed
    ('VM', 'snapshot_schedule'): '"OpaqueRef:NULL"',
    ('VM', 'is_vmss_snapshot'): 'false',
    ('VM', 'appliance'): '"OpaqueRef:NULL"',
    ('VM', 'start_delay'): '0',
    ('VM', 'shutdown_delay'): '0',
    ('VM', 'order'): '0',
    ('VM', 'suspend_SR'): '"OpaqueRef:NULL"',
    ('VM', 'version'): '0',
    ('VM', 'generation_id'): '"0:0"',
    ('VM', 'hardware_platform_version'): '0',
    ('VM', 'has_vendor_device'): 'true',  # changed from false to true in a recent release (older published docs say false)
    ('VM', 'requires_reboot'): 'false',
    ('VM', 'reference_label'): '""',
    ('VM', 'domain_type'): '"unspecified"',
    ('VM', 'NVRAM'): '{}',
    ('VM', 'pending_guidances'): '[]',
    ('VM', 'recommended_guidances'): '[]',  # removed; internal-only, not on the wire
    ('VM', 'pending_guidances_recommended'): '[]',  # prototyped
    ('VM', 'pending_guidances_full'): '[]',  # prototyped
    ('VM', 'secureboot_certificates_state'): '"ok"',  # prototyped
    # --- VM_metrics
    ('VM_metrics', 'VCPUs_utilisation'): '{}',  # removed
    ('VM_metrics', 'other_config'): '{}',
    ('VM_metrics', 'hvm'): 'false',
    ('VM_metrics', 'nested_virt'): 'false',
    ('VM_metrics', 'nomigrate'): 'false',
    ('VM_metrics', 'current_domain_type'): '"unspecified"',
    ('VM_metrics', 'numa_optimised'): 'false',  # prototyped
    ('VM_metrics', 'numa_nodes'): '0',  # prototyped
    ('VM_metrics', 'numa_node_memory'): '{}',  # prototyped
    # --- VM_guest_metrics
    ('VM_guest_metrics', 'netbios_name'): '{}',  # prototyped
    ('VM_guest_metrics', 'memory'): '{}',  # removed
    ('VM_guest_metrics', 'disks'): '{}',  # removed
    ('VM_guest_metrics', 'other_config'): '{}',
    ('VM_guest_metrics', 'live'): 'false',
    ('VM_guest_metrics', 'can_use_hotplug_vbd'): '"unspecified"',
    ('VM_guest_metrics', 'can_use_hotplug_vif'): '"unspecified"',
    ('VM_guest_metrics', 'PV_drivers_detected'): 'false',
    ('VM_guest_metrics', 'services'): '{}',  # prototyped
    # --- VMPP (class removed)
    ('VMPP', 'name_label'): '""',  # removed
    ('VMPP', 'name_description'): '""',  # removed
    ('VMPP', 'is_policy_enabled'): 'true',  # removed
    ('VMPP', 'backup_type'): '"snapshot"',  # removed
    ('VMPP', 'backup_retention_value'): '7',  # removed
    ('VMPP', 'backup_frequency'): '"daily"',  # removed
    ('VMPP', 'backup_schedule'): '{}',  # removed
    ('VMPP', 'backup_last_run_time'): '"19700101T00:00:00Z"',  # removed
    ('VMPP', 'archive_target_type'): '"none"',  # removed
    ('VMPP', 'archive_target_config'): '{}',  # removed
    ('VMPP', 'archive_frequency'): '"never"',  # removed
    ('VMPP', 'archive_schedule'): '{}',  # removed
    ('VMPP', 'archive_last_run_time'): '"19700101T00:00:00Z"',  # removed
    ('VMPP', 'is_alarm_enabled'): 'false',  # removed
    ('VMPP', 'alarm_config'): '{}',  # removed
    ('VMPP', 'recent_alerts'): '[]',  # removed
    # --- VMSS
    ('VMSS', 'name_label'): '""',
    ('VMSS', 'name_description'): '""',
    ('VMSS', 'enabled'): 'true',
    ('VMSS', 'retained_snapshots'): '7',
    ('VMSS', 'schedule'): '{}',
    ('VMSS', 'last_run_time'): '"19700101T00:00:00Z"',
    # --- VM_appliance
    ('VM_appliance', 'name_label'): '""',
    ('VM_appliance', 'name_description'): '""',
    ('VM_appliance', 'allowed_operations'): '[]',
    ('VM_appliance', 'current_operations'): '{}',
    # --- host
    ('host', 'name_label'): '""',
    ('host', 'name_description'): '""',
    ('host', 'memory_overhead'): '0',
    ('host', 'allowed_operations'): '[]',
    ('host', 'current_operations'): '{}',
    ('host', 'cpu_info'): '{}',
    ('host', 'ha_statefiles'): '[]',
    ('host', 'ha_network_peers'): '[]',
    ('host', 'blobs'): '{}',
    ('host', 'tags'): '[]',
    ('host', 'external_auth_type'): '""',
    ('host', 'external_auth_service_name'): '""',
    ('host', 'external_auth_configuration'): '{}',
    ('host', 'edition'): '""',
    ('host', 'license_server'): '{"address": "localhost", "port": "27000"}',
    ('host', 'bios_strings'): '{}',
    ('host', 'power_on_mode'): '""',
    ('host', 'power_on_config'): '{}',
    ('host', 'local_cache_sr'): '"OpaqueRef:NULL"',
    ('host', 'chipset_info'): '{}',
    ('host', 'ssl_legacy'): 'true',  # deprecated
    ('host', 'guest_VCPUs_params'): '{}',
    ('host', 'display'): '"enabled"',
    ('host', 'virtual_hardware_platform_versions'): '[0]',
    ('host', 'control_domain'): '"OpaqueRef:NULL"',
    ('host', 'iscsi_iqn'): '""',
    ('host', 'multipathing'): 'false',
    ('host', 'uefi_certificates'): '""',  # deprecated
    ('host', 'editions'): '[]',
    ('host', 'pending_guidances'): '[]',
    ('host', 'tls_verification_enabled'): 'false',
    ('host', 'last_software_update'): '"19700101T00:00:00Z"',  # prototyped
    ('host', 'https_only'): 'false',  # prototyped
    ('host', 'recommended_guidances'): '[]',  # removed; internal-only, not on the wire
    ('host', 'latest_synced_updates_applied'): '"unknown"',  # prototyped
    ('host', 'numa_affinity_policy'): '"default_policy"',  # prototyped
    ('host', 'pending_guidances_recommended'): '[]',  # prototyped
    ('host', 'pending_guidances_full'): '[]',  # prototyped
    ('host', 'last_update_hash'): '""',  # prototyped
    ('host', 'ssh_enabled'): 'true',  # prototyped
    ('host', 'ssh_enabled_timeout'): '0',  # prototyped
    ('host', 'ssh_expiry'): '"19700101T00:00:00Z"',  # prototyped
    ('host', 'console_idle_timeout'): '0',  # prototyped
    ('host', 'ssh_auto_mode'): 'false',  # prototyped
    ('host', 'max_cstate'): '""',  # prototyped
    ('host', 'secure_boot'): 'false',  # prototyped
    ('host', 'ntp_mode'): '"Factory"',  # prototyped
    ('host', 'ntp_custom_servers'): '[]',  # prototyped
    ('host', 'timezone'): '"UTC"',  # prototyped
    # --- host_crashdump
    ('host_crashdump', 'other_config'): '{}',
    # --- host_patch (class deprecated)
    ('host_patch', 'name_label'): '""',
    ('host_patch', 'name_description'): '""',
    ('host_patch', 'pool_patch'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('host_patch', 'other_config'): '{}',
    # --- host_metrics
    ('host_metrics', 'memory_free'): '0',  # removed
    ('host_metrics', 'other_config'): '{}',
    # --- host_cpu (class deprecated)
    ('host_cpu', 'other_config'): '{}',
    # --- network
    ('network', 'name_label'): '""',
    ('network', 'name_description'): '""',
    ('network', 'allowed_operations'): '[]',
    ('network', 'current_operations'): '{}',
    ('network', 'MTU'): '1500',
    ('network', 'bridge'): '""',
    ('network', 'managed'): 'true',
    ('network', 'blobs'): '{}',
    ('network', 'tags'): '[]',
    ('network', 'default_locking_mode'): '"unlocked"',
    ('network', 'assigned_ips'): '{}',
    ('network', 'purpose'): '[]',
    # --- VIF
    ('VIF', 'allowed_operations'): '[]',
    ('VIF', 'current_operations'): '{}',
    ('VIF', 'currently_attached'): 'false',
    ('VIF', 'metrics'): '"OpaqueRef:NULL"',  # removed
    ('VIF', 'MAC_autogenerated'): 'false',
    ('VIF', 'locking_mode'): '"network_default"',
    ('VIF', 'ipv4_allowed'): '[]',
    ('VIF', 'ipv6_allowed'): '[]',
    ('VIF', 'ipv4_configuration_mode'): '"None"',
    ('VIF', 'ipv4_addresses'): '[]',
    ('VIF', 'ipv4_gateway'): '""',
    ('VIF', 'ipv6_configuration_mode'): '"None"',
    ('VIF', 'ipv6_addresses'): '[]',
    ('VIF', 'ipv6_gateway'): '""',
    ('VIF', 'reserved_pci'): '"OpaqueRef:NULL"',  # internal-only, not on the wire
    ('VIF', 'trunks'): '[]',  # prototyped
    # --- VIF_metrics (class removed)
    ('VIF_metrics', 'io_read_kbs'): '0.0',  # removed
    ('VIF_metrics', 'io_write_kbs'): '0.0',  # removed
    ('VIF_metrics', 'other_config'): '{}',
    # --- PIF
    ('PIF', 'physical'): 'false',
    ('PIF', 'currently_attached'): 'true',
    ('PIF', 'ip_configuration_mode'): '"None"',
    ('PIF', 'IP'): '""',
    ('PIF', 'netmask'): '""',
    ('PIF', 'gateway'): '""',
    ('PIF', 'DNS'): '""',
    ('PIF', 'bond_slave_of'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('PIF', 'VLAN_master_of'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('PIF', 'management'): 'false',
    ('PIF', 'other_config'): '{}',
    ('PIF', 'disallow_unplug'): 'false',
    ('PIF', 'ipv6_configuration_mode'): '"None"',
    ('PIF', 'IPv6'): '[]',
    ('PIF', 'ipv6_gateway'): '""',
    ('PIF', 'primary_address_type'): '"IPv4"',
    ('PIF', 'managed'): 'true',
    ('PIF', 'properties'): '{}',
    ('PIF', 'capabilities'): '[]',
    ('PIF', 'igmp_snooping_status'): '"unknown"',
    ('PIF', 'PCI'): '"OpaqueRef:NULL"',
    # --- PIF_metrics
    ('PIF_metrics', 'io_read_kbs'): '0.0',  # removed
    ('PIF_metrics', 'io_write_kbs'): '0.0',  # removed
    ('PIF_metrics', 'other_config'): '{}',
    # --- Bond
    ('Bond', 'master'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('Bond', 'other_config'): '{}',
    ('Bond', 'primary_slave'): '"OpaqueRef:NULL"',
    ('Bond', 'mode'): '"balance-slb"',
    ('Bond', 'properties'): '{}',
    ('Bond', 'links_up'): '0',
    ('Bond', 'auto_update_mac'): 'true',
    # --- VLAN
    ('VLAN', 'tagged_PIF'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('VLAN', 'untagged_PIF'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('VLAN', 'tag'): '-1',
    ('VLAN', 'other_config'): '{}',
    # --- SM
    ('SM', 'name_label'): '""',
    ('SM', 'name_description'): '""',
    ('SM', 'capabilities'): '[]',  # deprecated
    ('SM', 'features'): '{}',
    ('SM', 'host_pending_features'): '{}',  # prototyped; internal-only, not on the wire
    ('SM', 'other_config'): '{}',
    ('SM', 'driver_filename'): '""',
    ('SM', 'required_cluster_stack'): '[]',
    ('SM', 'supported_image_formats'): '[]',  # prototyped
    # --- SR
    ('SR', 'name_label'): '""',
    ('SR', 'name_description'): '""',
    ('SR', 'allowed_operations'): '[]',
    ('SR', 'current_operations'): '{}',
    ('SR', 'tags'): '[]',
    ('SR', 'sm_config'): '{}',
    ('SR', 'blobs'): '{}',
    ('SR', 'local_cache_enabled'): 'false',
    ('SR', 'introduced_by'): '"OpaqueRef:NULL"',
    ('SR', 'clustered'): 'false',
    ('SR', 'is_tools_sr'): 'false',
    # --- VDI
    ('VDI', 'name_label'): '""',
    ('VDI', 'name_description'): '""',
    ('VDI', 'allowed_operations'): '[]',
    ('VDI', 'current_operations'): '{}',
    ('VDI', 'location'): '""',
    ('VDI', 'xenstore_data'): '{}',
    ('VDI', 'sm_config'): '{}',
    ('VDI', 'is_a_snapshot'): 'false',
    ('VDI', 'snapshot_of'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('VDI', 'snapshot_time'): '"19700101T00:00:00Z"',
    ('VDI', 'tags'): '[]',
    ('VDI', 'allow_caching'): 'false',
    ('VDI', 'on_boot'): '"persist"',
    ('VDI', 'metadata_of_pool'): '"OpaqueRef:NULL"',
    ('VDI', 'metadata_latest'): 'false',
    ('VDI', 'is_tools_iso'): 'false',
    ('VDI', 'cbt_enabled'): 'false',
    # --- VBD
    ('VBD', 'allowed_operations'): '[]',
    ('VBD', 'current_operations'): '{}',
    ('VBD', 'device'): '""',
    ('VBD', 'unpluggable'): 'true',
    ('VBD', 'reserved'): 'false',  # internal-only, not on the wire
    ('VBD', 'currently_attached'): 'false',
    ('VBD', 'metrics'): '"OpaqueRef:NULL"',  # removed
    # --- VBD_metrics (class removed)
    ('VBD_metrics', 'io_read_kbs'): '0.0',  # removed
    ('VBD_metrics', 'io_write_kbs'): '0.0',  # removed
    ('VBD_metrics', 'last_updated'): '"19700101T00:00:00Z"',  # removed
    ('VBD_metrics', 'other_config'): '{}',  # removed
    # --- PBD
    ('PBD', 'other_config'): '{}',
    # --- crashdump (class deprecated)
    ('crashdump', 'other_config'): '{}',
    # --- VTPM (class prototyped)
    ('VTPM', 'allowed_operations'): '[]',
    ('VTPM', 'current_operations'): '{}',
    ('VTPM', 'backend'): '"OpaqueRef:NULL"',
    ('VTPM', 'persistence_backend'): '"xapi"',  # prototyped
    ('VTPM', 'is_unique'): 'false',  # prototyped
    ('VTPM', 'is_protected'): 'false',  # prototyped
    # --- user (class deprecated)
    ('user', 'other_config'): '{}',
    # --- data_source
    ('data_source', 'name_label'): '""',
    ('data_source', 'name_description'): '""',
    # --- blob
    ('blob', 'name_label'): '""',
    ('blob', 'name_description'): '""',
    ('blob', 'public'): 'false',
    # --- secret
    ('secret', 'other_config'): '{}',
    # --- tunnel
    ('tunnel', 'access_PIF'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('tunnel', 'transport_PIF'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('tunnel', 'status'): '{"active": "false"}',
    ('tunnel', 'other_config'): '{}',
    ('tunnel', 'protocol'): '"gre"',
    # --- network_sriov
    ('network_sriov', 'physical_PIF'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('network_sriov', 'logical_PIF'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL
    ('network_sriov', 'requires_reboot'): 'false',
    ('network_sriov', 'configuration_mode'): '"unknown"',
    # --- PCI
    ('PCI', 'class_id'): '""',
    ('PCI', 'class_name'): '""',
    ('PCI', 'vendor_id'): '""',
    ('PCI', 'vendor_name'): '""',
    ('PCI', 'device_id'): '""',
    ('PCI', 'device_name'): '""',
    ('PCI', 'host'): '"OpaqueRef:NULL"',
    ('PCI', 'pci_id'): '""',
    ('PCI', 'functions'): '1',  # internal-only, not on the wire
    ('PCI', 'physical_function'): '"OpaqueRef:NULL"',  # internal-only, not on the wire
    ('PCI', 'other_config'): '{}',
    ('PCI', 'subsystem_vendor_id'): '""',
    ('PCI', 'subsystem_vendor_name'): '""',
    ('PCI', 'subsystem_device_id'): '""',
    ('PCI', 'subsystem_device_name'): '""',
    ('PCI', 'scheduled_to_be_attached_to'): '"OpaqueRef:NULL"',  # internal-only, not on the wire
    ('PCI', 'driver_name'): '""',
    # --- PGPU
    ('PGPU', 'PCI'): '"OpaqueRef:NULL"',
    ('PGPU', 'GPU_group'): '"OpaqueRef:NULL"',
    ('PGPU', 'host'): '"OpaqueRef:NULL"',
    ('PGPU', 'other_config'): '{}',
    ('PGPU', 'size'): '1048576',  # internal-only, not on the wire
    ('PGPU', 'supported_VGPU_max_capacities'): '{}',
    ('PGPU', 'dom0_access'): '"enabled"',  # deprecated
    ('PGPU', 'is_system_display_device'): 'false',
    ('PGPU', 'compatibility_metadata'): '{}',
    # --- GPU_group
    ('GPU_group', 'name_label'): '""',
    ('GPU_group', 'name_description'): '""',
    ('GPU_group', 'GPU_types'): '[]',
    ('GPU_group', 'other_config'): '{}',
    ('GPU_group', 'allocation_algorithm'): '"depth_first"',
    # --- VGPU
    ('VGPU', 'device'): '"0"',
    ('VGPU', 'currently_attached'): 'false',
    ('VGPU', 'other_config'): '{}',
    ('VGPU', 'type'): '"OpaqueRef:NULL"',
    ('VGPU', 'resident_on'): '"OpaqueRef:NULL"',
    ('VGPU', 'scheduled_to_be_resident_on'): '"OpaqueRef:NULL"',
    ('VGPU', 'compatibility_metadata'): '{}',
    ('VGPU', 'extra_args'): '""',
    ('VGPU', 'PCI'): '"OpaqueRef:NULL"',
    # --- VGPU_type
    ('VGPU_type', 'vendor_name'): '""',
    ('VGPU_type', 'model_name'): '""',
    ('VGPU_type', 'framebuffer_size'): '0',
    ('VGPU_type', 'max_heads'): '0',
    ('VGPU_type', 'max_resolution_x'): '0',
    ('VGPU_type', 'max_resolution_y'): '0',
    ('VGPU_type', 'size'): '0',  # internal-only, not on the wire
    ('VGPU_type', 'internal_config'): '{}',  # internal-only, not on the wire
    ('VGPU_type', 'implementation'): '"passthrough"',
    ('VGPU_type', 'identifier'): '""',
    ('VGPU_type', 'experimental'): 'false',
    ('VGPU_type', 'compatible_types_in_vm'): '[]',
    ('VGPU_type', 'compatible_types_on_pgpu'): '[]',  # internal-only, not on the wire
    # --- PVS_site
    ('PVS_site', 'name_label'): '""',
    ('PVS_site', 'name_description'): '""',
    ('PVS_site', 'PVS_uuid'): '""',
    ('PVS_site', 'cache_storage'): '[]',
    # --- PVS_server
    ('PVS_server', 'addresses'): '[]',
    ('PVS_server', 'first_port'): '0',
    ('PVS_server', 'last_port'): '0',
    ('PVS_server', 'site'): '"OpaqueRef:NULL"',
    # --- PVS_proxy
    ('PVS_proxy', 'site'): '"OpaqueRef:NULL"',
    ('PVS_proxy', 'VIF'): '"OpaqueRef:NULL"',
    ('PVS_proxy', 'currently_attached'): 'false',
    ('PVS_proxy', 'status'): '"stopped"',
    # --- PVS_cache_storage
    ('PVS_cache_storage', 'host'): '"OpaqueRef:NULL"',
    ('PVS_cache_storage', 'SR'): '"OpaqueRef:NULL"',
    ('PVS_cache_storage', 'site'): '"OpaqueRef:NULL"',
    ('PVS_cache_storage', 'size'): '21474836480',
    ('PVS_cache_storage', 'VDI'): '"OpaqueRef:NULL"',
    # --- Feature
    ('Feature', 'name_label'): '""',
    ('Feature', 'name_description'): '""',
    ('Feature', 'enabled'): 'false',
    ('Feature', 'experimental'): 'false',
    ('Feature', 'version'): '"1.0"',
    # --- SDN_controller
    ('SDN_controller', 'protocol'): '"ssl"',
    ('SDN_controller', 'address'): '""',
    ('SDN_controller', 'port'): '0',
    # --- PUSB
    ('PUSB', 'USB_group'): '"OpaqueRef:NULL"',
    ('PUSB', 'host'): '"OpaqueRef:NULL"',
    ('PUSB', 'path'): '""',
    ('PUSB', 'vendor_id'): '""',
    ('PUSB', 'vendor_desc'): '""',
    ('PUSB', 'product_id'): '""',
    ('PUSB', 'product_desc'): '""',
    ('PUSB', 'serial'): '""',
    ('PUSB', 'version'): '""',
    ('PUSB', 'description'): '""',
    ('PUSB', 'passthrough_enabled'): 'false',
    ('PUSB', 'other_config'): '{}',
    ('PUSB', 'speed'): '-1.0',
    # --- USB_group
    ('USB_group', 'name_label'): '""',
    ('USB_group', 'name_description'): '""',
    ('USB_group', 'other_config'): '{}',
    # --- VUSB
    ('VUSB', 'allowed_operations'): '[]',
    ('VUSB', 'current_operations'): '{}',
    ('VUSB', 'other_config'): '{}',
    ('VUSB', 'currently_attached'): 'false',
    # --- Cluster
    ('Cluster', 'pending_forget'): '[]',
    ('Cluster', 'cluster_token'): '""',
    ('Cluster', 'cluster_stack'): '"corosync"',
    ('Cluster', 'cluster_stack_version'): '2',  # prototyped
    ('Cluster', 'is_quorate'): 'false',  # prototyped
    ('Cluster', 'quorum'): '0',  # prototyped
    ('Cluster', 'live_hosts'): '0',  # prototyped
    ('Cluster', 'expected_hosts'): '0',  # prototyped
    ('Cluster', 'allowed_operations'): '[]',
    ('Cluster', 'current_operations'): '{}',
    ('Cluster', 'pool_auto_join'): 'true',
    ('Cluster', 'token_timeout'): '20.0',
    ('Cluster', 'token_timeout_coefficient'): '1.0',
    ('Cluster', 'cluster_config'): '{}',
    ('Cluster', 'other_config'): '{}',
    # --- Cluster_host
    ('Cluster_host', 'cluster'): '"OpaqueRef:NULL"',
    ('Cluster_host', 'host'): '"OpaqueRef:NULL"',
    ('Cluster_host', 'enabled'): 'false',
    ('Cluster_host', 'PIF'): '"OpaqueRef:NULL"',
    ('Cluster_host', 'joined'): 'true',
    ('Cluster_host', 'live'): 'false',  # prototyped
    ('Cluster_host', 'last_update_live'): '"19700101T00:00:00Z"',  # prototyped
    ('Cluster_host', 'allowed_operations'): '[]',
    ('Cluster_host', 'current_operations'): '{}',
    ('Cluster_host', 'other_config'): '{}',
    # --- Certificate
    ('Certificate', 'name'): '""',
    ('Certificate', 'type'): '"host"',
    ('Certificate', 'host'): '"OpaqueRef:NULL"',
    ('Certificate', 'not_before'): '"19700101T00:00:00Z"',
    ('Certificate', 'not_after'): '"19700101T00:00:00Z"',
    ('Certificate', 'fingerprint'): '""',  # deprecated
    ('Certificate', 'fingerprint_sha256'): '""',  # prototyped
    ('Certificate', 'fingerprint_sha1'): '""',  # prototyped
    ('Certificate', 'purpose'): '[]',  # prototyped
    # --- Repository
    ('Repository', 'name_label'): '""',
    ('Repository', 'name_description'): '""',
    ('Repository', 'binary_url'): '""',
    ('Repository', 'source_url'): '""',
    ('Repository', 'update'): 'false',
    ('Repository', 'hash'): '""',
    ('Repository', 'up_to_date'): 'false',  # removed
    ('Repository', 'gpgkey_path'): '""',  # prototyped
    ('Repository', 'origin'): '"remote"',  # prototyped
    ('Repository', 'certificate'): '""',  # prototyped
    # --- Observer (class prototyped)
    ('Observer', 'name_label'): '""',
    ('Observer', 'name_description'): '""',
    ('Observer', 'hosts'): '[]',  # prototyped
    ('Observer', 'attributes'): '{}',  # prototyped
    ('Observer', 'endpoints'): '[]',  # prototyped
    ('Observer', 'components'): '[]',  # prototyped
    ('Observer', 'enabled'): 'false',  # prototyped
    # --- VM_group (class prototyped)
    ('VM_group', 'name_label'): '""',
    ('VM_group', 'name_description'): '""',
    ('VM_group', 'placement'): '"normal"',  # prototyped
    # --- Host_driver (class prototyped)
    ('Host_driver', 'host'): '"OpaqueRef:NULL"',  # declared as an empty ref string "", normalised here to OpaqueRef:NULL; prototyped
    # --- Caller (class prototyped)
    ('Caller', 'name_label'): '""',  # prototyped
    ('Caller', 'name_description'): '""',  # prototyped
    ('Caller', 'user_agent'): '""',  # prototyped
    ('Caller', 'client_ip'): '""',  # prototyped
    ('Caller', 'last_access'): '"19700101T00:00:00Z"',  # prototyped
    ('Caller', 'groups'): '[]',  # prototyped
    ('Caller', 'rate_limit'): '"OpaqueRef:NULL"',  # prototyped
    ('Caller', 'auto_registered'): 'false',  # prototyped
    # --- Rate_limit (class prototyped)
    ('Rate_limit', 'name_label'): '""',  # prototyped
    ('Rate_limit', 'name_description'): '""',  # prototyped
    ('Rate_limit', 'burst_size'): '0.0',  # prototyped
    ('Rate_limit', 'fill_rate'): '0.0',  # prototyped
}

# Ref fields whose declared default is the empty string "" rather than
# OpaqueRef:NULL (the reference docs render both as Null).  DEFAULTS above uses
# OpaqueRef:NULL for them; xapi itself would store "" if it ever applied the
# declared default.
DECLARED_EMPTY_REF_DEFAULTS = [
    ('task', 'subtask_of'),
    ('VM', 'snapshot_of'),
    ('VM', 'parent'),
    ('host_patch', 'pool_patch'),
    ('PIF', 'bond_slave_of'),
    ('PIF', 'VLAN_master_of'),
    ('Bond', 'master'),
    ('VLAN', 'tagged_PIF'),
    ('VLAN', 'untagged_PIF'),
    ('VDI', 'snapshot_of'),
    ('tunnel', 'access_PIF'),
    ('tunnel', 'transport_PIF'),
    ('network_sriov', 'physical_PIF'),
    ('network_sriov', 'logical_PIF'),
    ('Host_driver', 'host'),
]

# Fields marked internal-only in the datamodel: present in the DB, omitted from
# wire records / get_record and have no generated accessors on the wire.
INTERNAL_ONLY_FIELDS = [
    ('task', 'session'),
    ('task', 'externalpid'),
    ('task', 'stunnelpid'),
    ('task', 'forwarded'),
    ('task', 'forwarded_to'),
    ('pool', 'wlb_password'),
    ('pool_patch', 'filename'),
    ('VM', 'recommended_guidances'),
    ('host', 'boot_free_mem'),
    ('host', 'recommended_guidances'),
    ('host_crashdump', 'filename'),
    ('host_patch', 'filename'),
    ('VIF', 'reserved'),
    ('VIF', 'reserved_pci'),
    ('PIF', 'device_name'),
    ('SM', 'host_pending_features'),
    ('SR', 'default_vdi_visibility'),
    ('VBD', 'reserved'),
    ('VTPM', 'contents'),
    ('console', 'port'),
    ('PCI', 'functions'),
    ('PCI', 'virtual_functions'),
    ('PCI', 'physical_function'),
    ('PCI', 'attached_VMs'),
    ('PCI', 'scheduled_to_be_attached_to'),
    ('PGPU', 'size'),
    ('VGPU_type', 'size'),
    ('VGPU_type', 'internal_config'),
    ('VGPU_type', 'compatible_types_on_pgpu'),
]

# Fields declared with persist=false (kept in memory only, reset on restart).
NON_PERSISTENT_FIELDS = [
    ('task', 'allowed_operations'),
    ('task', 'current_operations'),
    ('pool', 'allowed_operations'),
    ('pool', 'current_operations'),
    ('VM', 'allowed_operations'),
    ('VM', 'current_operations'),
    ('VM_metrics', 'memory_actual'),
    ('VM_metrics', 'VCPUs_utilisation'),
    ('VM_metrics', 'VCPUs_CPU'),
    ('VM_metrics', 'VCPUs_params'),
    ('VM_metrics', 'VCPUs_flags'),
    ('VM_metrics', 'state'),
    ('VM_metrics', 'last_updated'),
    ('VM_metrics', 'other_config'),
    ('VM_metrics', 'hvm'),
    ('VM_metrics', 'nested_virt'),
    ('VM_metrics', 'nomigrate'),
    ('VM_appliance', 'allowed_operations'),
    ('VM_appliance', 'current_operations'),
    ('host', 'allowed_operations'),
    ('host', 'current_operations'),
    ('host_cpu', 'utilisation'),
    ('network', 'allowed_operations'),
    ('network', 'current_operations'),
    ('VIF', 'allowed_operations'),
    ('VIF', 'current_operations'),
    ('VIF_metrics', 'io_read_kbs'),
    ('VIF_metrics', 'io_write_kbs'),
    ('PIF_metrics', 'io_read_kbs'),
    ('PIF_metrics', 'io_write_kbs'),
    ('SR', 'allowed_operations'),
    ('SR', 'current_operations'),
    ('VDI', 'allowed_operations'),
    ('VDI', 'current_operations'),
    ('VBD', 'allowed_operations'),
    ('VBD', 'current_operations'),
    ('VBD_metrics', 'io_read_kbs'),
    ('VBD_metrics', 'io_write_kbs'),
    ('VTPM', 'allowed_operations'),
    ('VTPM', 'current_operations'),
    ('VUSB', 'allowed_operations'),
    ('VUSB', 'current_operations'),
    ('Cluster', 'allowed_operations'),
    ('Cluster', 'current_operations'),
    ('Cluster_host', 'allowed_operations'),
    ('Cluster_host', 'current_operations'),
]

# ---------------------------------------------------------------------------
# SYNC_ONLY: explicit (datamodel-declared, tag Custom) messages whose flags lack
# `Async, i.e. no Async.<Class>.<msg> variant exists.  All classes.  Implicit
# messages (field get_/set_/add_to_/remove_from_/add_/remove_, get_record, get_all,
# get_all_records(_where), get_all_where, get_by_uuid, get_by_name_label) are never
# async and are not listed.  An explicit message declared without ~flags gets the
# default [`Session; `Async], so it IS async.  Comments mark lifecycle state:
# 'removed' messages are still dispatched but only answer MESSAGE_REMOVED; 'hidden'
# ones are internal (left out of docs/SDKs) but still callable on the wire.
# Note: datamodel.ml also has a list 'no_async_messages_for' (session, event, task,
# data_source, blob) but no generator uses it; async-ness comes only from the flags.
SYNC_ONLY = [
    'SR.forget_data_source_archives',
    'SR.get_data_sources',
    'SR.get_supported_types',
    'SR.query_data_source',
    'SR.record_data_source',
    'SR.set_physical_size',  # explicit; replaces the generated accessor of that name
    'SR.set_physical_utilisation',  # hidden/internal, explicit; replaces the generated accessor of that name
    'SR.set_virtual_allocation',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.get_nbd_info',
    'VDI.set_is_a_snapshot',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.set_managed',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.set_metadata_of_pool',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.set_missing',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.set_physical_utilisation',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.set_read_only',  # explicit; replaces the generated accessor of that name
    'VDI.set_sharable',  # explicit; replaces the generated accessor of that name
    'VDI.set_snapshot_of',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.set_snapshot_time',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VDI.set_virtual_size',  # hidden/internal, explicit; replaces the generated accessor of that name
    'VM.add_to_NVRAM',  # explicit; replaces the generated accessor of that name
    'VM.add_to_other_config',  # explicit; replaces the generated accessor of that name
    'VM.add_to_platform',  # explicit; replaces the generated accessor of that name
    'VM.forget_data_source_archives',
    'VM.get_allowed_VBD_devices',
    'VM.get_allowed_VIF_devices',
    'VM.get_boot_record',  # deprecated
    'VM.get_data_sources',
    'VM.query_data_source',
    'VM.record_data_source',
    'VM.remove_from_NVRAM',  # explicit; replaces the generated accessor of that name
    'VM.remove_from_other_config',  # explicit; replaces the generated accessor of that name
    'VM.remove_from_platform',  # explicit; replaces the generated accessor of that name
    'VM.set_HVM_boot_policy',  # deprecated, explicit; replaces the generated accessor of that name
    'VM.set_HVM_shadow_multiplier',  # explicit; replaces the generated accessor of that name
    'VM.set_NVRAM',  # explicit; replaces the generated accessor of that name
    'VM.set_NVRAM_EFI_variables',  # hidden/internal
    'VM.set_VCPUs_at_startup',  # explicit; replaces the generated accessor of that name
    'VM.set_VCPUs_max',  # explicit; replaces the generated accessor of that name
    'VM.set_domain_type',  # explicit; replaces the generated accessor of that name
    'VM.set_ha_always_run',  # deprecated, explicit; replaces the generated accessor of that name
    'VM.set_ha_restart_priority',  # explicit; replaces the generated accessor of that name
    'VM.set_memory_dynamic_max',  # explicit; replaces the generated accessor of that name
    'VM.set_memory_dynamic_min',  # explicit; replaces the generated accessor of that name
    'VM.set_memory_static_max',  # explicit; replaces the generated accessor of that name
    'VM.set_memory_static_min',  # explicit; replaces the generated accessor of that name
    'VM.set_other_config',  # explicit; replaces the generated accessor of that name
    'VM.set_platform',  # explicit; replaces the generated accessor of that name
    'VM.set_protection_policy',  # removed, explicit; replaces the generated accessor of that name
    'VM.set_snapshot_schedule',  # explicit; replaces the generated accessor of that name
    'VMPP.add_to_alarm_config',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.add_to_archive_schedule',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.add_to_archive_target_config',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.add_to_backup_schedule',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.archive_now',  # removed
    'VMPP.create_alert',  # removed, hidden/internal
    'VMPP.get_alerts',  # removed
    'VMPP.protect_now',  # removed
    'VMPP.remove_from_alarm_config',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.remove_from_archive_schedule',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.remove_from_archive_target_config',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.remove_from_backup_schedule',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_alarm_config',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_archive_frequency',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_archive_last_run_time',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_archive_schedule',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_archive_target_config',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_archive_target_type',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_backup_frequency',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_backup_last_run_time',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_backup_retention_value',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_backup_schedule',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_is_alarm_enabled',  # removed, explicit; replaces the generated accessor of that name
    'VMPP.set_is_archive_running',  # removed, hidden/internal, explicit; replaces the generated accessor of that name
    'VMPP.set_is_backup_running',  # removed, hidden/internal, explicit; replaces the generated accessor of that name
    'VMSS.add_to_schedule',  # explicit; replaces the generated accessor of that name
    'VMSS.remove_from_schedule',  # explicit; replaces the generated accessor of that name
    'VMSS.set_frequency',  # explicit; replaces the generated accessor of that name
    'VMSS.set_last_run_time',  # explicit; replaces the generated accessor of that name
    'VMSS.set_retained_snapshots',  # explicit; replaces the generated accessor of that name
    'VMSS.set_schedule',  # explicit; replaces the generated accessor of that name
    'VMSS.set_type',  # explicit; replaces the generated accessor of that name
    'VMSS.snapshot_now',
    'auth.get_group_membership',  # explicit; class has no DB table so this is hand-declared
    'auth.get_subject_identifier',  # explicit; class has no DB table so this is hand-declared
    'auth.get_subject_information_from_identifier',  # explicit; class has no DB table so this is hand-declared
    'blob.create',  # explicit; replaces the generated accessor of that name
    'blob.destroy',  # explicit; replaces the generated accessor of that name
    'event.from',
    'event.get_current_id',  # explicit; class has no DB table so this is hand-declared
    'event.inject',
    'event.next',  # deprecated
    'host.abort_new_master',  # hidden/internal, pool-internal
    'host.apply_edition',
    'host.backup_rrds',
    'host.call_extension',
    'host.commit_new_master',  # hidden/internal, pool-internal
    'host.disable_external_auth',
    'host.disable_local_storage_caching',
    'host.emergency_clear_mandatory_guidance',  # prototyped
    'host.emergency_disable_tls_verification',
    'host.emergency_ha_disable',
    'host.emergency_reenable_tls_verification',
    'host.emergency_reset_server_certificate',
    'host.enable_external_auth',
    'host.enable_local_storage_caching',
    'host.external_auth_set_ldaps',
    'host.forget_data_source_archives',
    'host.get_data_sources',
    'host.get_diagnostic_timing_stats',  # hidden/internal
    'host.get_server_localtime',
    'host.get_servertime',
    'host.get_sm_diagnostics',  # hidden/internal
    'host.get_system_status_capabilities',
    'host.get_thread_diagnostics',  # hidden/internal
    'host.ha_xapi_healthcheck',  # hidden/internal
    'host.is_in_emergency_mode',  # hidden/internal
    'host.list_methods',
    'host.local_assert_healthy',  # hidden/internal, pool-internal
    'host.local_management_reconfigure',
    'host.management_disable',
    'host.propose_new_master',  # hidden/internal, pool-internal
    'host.query_data_source',
    'host.record_data_source',
    'host.request_backup',  # hidden/internal, pool-internal
    'host.request_config_file_sync',  # hidden/internal, pool-internal
    'host.reset_cpu_features',  # removed
    'host.set_cpu_features',  # removed
    'host.set_hostname_live',
    'host.shutdown_agent',
    'host.signal_networking_change',  # hidden/internal, pool-internal
    'host.sm_dp_destroy',  # hidden/internal
    'host.sync_data',
    'host.sync_pif_currently_attached',  # hidden/internal, pool-internal
    'host.sync_tunnels',  # hidden/internal, pool-internal
    'host.sync_vlans',  # hidden/internal, pool-internal
    'host.tickle_heartbeat',  # hidden/internal, pool-internal
    'host.update_firewalld_service_status',  # prototyped, hidden/internal, pool-internal
    'message.create',
    'message.destroy',
    'message.get',
    'message.get_all',  # explicit; class has no DB table so this is hand-declared
    'message.get_all_records',  # explicit; class has no DB table so this is hand-declared
    'message.get_all_records_where',  # explicit; class has no DB table so this is hand-declared
    'message.get_by_uuid',  # explicit; class has no DB table so this is hand-declared
    'message.get_record',  # explicit; class has no DB table so this is hand-declared
    'message.get_since',  # explicit; class has no DB table so this is hand-declared
    'pool.detect_nonhomogeneous_external_auth',
    'pool.disable_external_auth',
    'pool.emergency_reset_master',
    'pool.emergency_transition_to_master',
    'pool.enable_external_auth',
    'pool.enable_tls_verification',
    'pool.external_auth_set_ldaps',
    'pool.get_guest_secureboot_readiness',  # prototyped
    'pool.ha_compute_hypothetical_max_host_failures_to_tolerate',
    'pool.ha_compute_max_host_failures_to_tolerate',
    'pool.ha_compute_vm_failover_plan',
    'pool.ha_failover_plan_exists',
    'pool.ha_prevent_restarts_for',
    'pool.is_slave',  # hidden/internal
    'pool.set_ext_auth_max_threads',  # prototyped, explicit; replaces the generated accessor of that name
    'pool.set_local_auth_max_threads',  # prototyped, explicit; replaces the generated accessor of that name
    'pool.test_archive_target',
    'role.get_by_permission',
    'role.get_by_permission_name_label',
    'role.get_permissions',
    'role.get_permissions_name_label',
    'secret.introduce',  # hidden/internal
    'session.change_password',
    'session.local_logout',
    'session.login_with_password',  # no session arg
    'session.logout',
    'session.slave_local_login',  # hidden/internal, no session arg
    'session.slave_local_login_with_password',  # no session arg
    'session.slave_login',  # hidden/internal, no session arg
    'subject.add_to_roles',
    'subject.get_permissions_name_label',
    'subject.remove_from_roles',
    'task.create',  # explicit; replaces the generated accessor of that name
    'task.destroy',  # explicit; replaces the generated accessor of that name
    'task.set_error_info',  # explicit; replaces the generated accessor of that name
    'task.set_progress',  # explicit; replaces the generated accessor of that name
    'task.set_result',  # explicit; replaces the generated accessor of that name
    'task.set_status',  # explicit; replaces the generated accessor of that name
]

# For completeness: explicit messages that DO have an Async variant.
EXPLICIT_ASYNC = [
    'Bond.create',
    'Bond.destroy',
    'Bond.set_mode',
    'Bond.set_property',
    'Caller.add_group',
    'Caller.query_all_usage',
    'Caller.query_call_count',
    'Caller.query_group_call_count',
    'Caller.query_group_token_usage',
    'Caller.query_token_usage',
    'Caller.remove_group',
    'Cluster.create',
    'Cluster.cstack_sync',
    'Cluster.destroy',
    'Cluster.get_network',
    'Cluster.pool_create',
    'Cluster.pool_destroy',
    'Cluster.pool_force_destroy',
    'Cluster.pool_resync',
    'Cluster_host.create',
    'Cluster_host.destroy',
    'Cluster_host.disable',
    'Cluster_host.enable',
    'Cluster_host.force_destroy',
    'Cluster_host.forget',
    'DR_task.create',
    'DR_task.destroy',
    'Diagnostics.db_stats',
    'Diagnostics.gc_compact',
    'Diagnostics.gc_stats',
    'Diagnostics.network_stats',
    'Driver_variant.select',
    'GPU_group.create',
    'GPU_group.destroy',
    'GPU_group.get_remaining_capacity',
    'GPU_group.update_enabled_VGPU_types',
    'GPU_group.update_supported_VGPU_types',
    'Host_driver.deselect',
    'Host_driver.rescan',
    'Host_driver.select',
    'LVHD.enable_thin_provisioning',
    'Observer.register',
    'Observer.set_attributes',
    'Observer.set_components',
    'Observer.set_enabled',
    'Observer.set_endpoints',
    'Observer.set_hosts',
    'Observer.unregister',
    'PBD.plug',
    'PBD.set_device_config',
    'PBD.unplug',
    'PCI.disable_dom0_access',
    'PCI.enable_dom0_access',
    'PCI.get_dom0_access_status',
    'PGPU.add_enabled_VGPU_types',
    'PGPU.disable_dom0_access',
    'PGPU.enable_dom0_access',
    'PGPU.get_remaining_capacity',
    'PGPU.remove_enabled_VGPU_types',
    'PGPU.set_GPU_group',
    'PGPU.set_enabled_VGPU_types',
    'PIF.create_VLAN',
    'PIF.db_forget',
    'PIF.db_introduce',
    'PIF.destroy',
    'PIF.forget',
    'PIF.introduce',
    'PIF.plug',
    'PIF.pool_introduce',
    'PIF.reconfigure_ip',
    'PIF.reconfigure_ipv6',
    'PIF.scan',
    'PIF.set_disallow_unplug',
    'PIF.set_primary_address_type',
    'PIF.set_property',
    'PIF.unplug',
    'PUSB.scan',
    'PUSB.set_passthrough_enabled',
    'PVS_proxy.create',
    'PVS_proxy.destroy',
    'PVS_server.forget',
    'PVS_server.introduce',
    'PVS_site.forget',
    'PVS_site.introduce',
    'PVS_site.set_PVS_uuid',
    'Rate_limit.add_caller',
    'Rate_limit.remove_caller',
    'Rate_limit.set_burst_size',
    'Rate_limit.set_fill_rate',
    'Repository.apply',
    'Repository.apply_livepatch',
    'Repository.forget',
    'Repository.introduce',
    'Repository.introduce_bundle',
    'Repository.introduce_remote_pool',
    'Repository.set_gpgkey_path',
    'SDN_controller.forget',
    'SDN_controller.introduce',
    'SR.assert_can_host_ha_statefile',
    'SR.assert_supports_database_replication',
    'SR.create',
    'SR.create_new_blob',
    'SR.destroy',
    'SR.disable_database_replication',
    'SR.enable_database_replication',
    'SR.forget',
    'SR.get_live_hosts',
    'SR.introduce',
    'SR.make',
    'SR.probe',
    'SR.probe_ext',
    'SR.scan',
    'SR.set_name_description',
    'SR.set_name_label',
    'SR.set_shared',
    'SR.update',
    'USB_group.create',
    'USB_group.destroy',
    'VBD.assert_attachable',
    'VBD.eject',
    'VBD.insert',
    'VBD.pause',
    'VBD.plug',
    'VBD.set_mode',
    'VBD.unpause',
    'VBD.unplug',
    'VBD.unplug_force',
    'VBD.unplug_force_no_safety_check',
    'VDI.checksum',
    'VDI.clone',
    'VDI.copy',
    'VDI.data_destroy',
    'VDI.db_forget',
    'VDI.db_introduce',
    'VDI.disable_cbt',
    'VDI.enable_cbt',
    'VDI.force_unlock',
    'VDI.forget',
    'VDI.generate_config',
    'VDI.introduce',
    'VDI.list_changed_blocks',
    'VDI.open_database',
    'VDI.pool_introduce',
    'VDI.pool_migrate',
    'VDI.read_database_pool_uuid',
    'VDI.resize',
    'VDI.resize_online',
    'VDI.revert',
    'VDI.set_allow_caching',
    'VDI.set_cbt_enabled',
    'VDI.set_name_description',
    'VDI.set_name_label',
    'VDI.set_on_boot',
    'VDI.snapshot',
    'VDI.update',
    'VGPU.atomic_set_resident_on',
    'VGPU.create',
    'VGPU.destroy',
    'VIF.add_ipv4_allowed',
    'VIF.add_ipv6_allowed',
    'VIF.add_trunks',
    'VIF.configure_ipv4',
    'VIF.configure_ipv6',
    'VIF.move',
    'VIF.plug',
    'VIF.remove_ipv4_allowed',
    'VIF.remove_ipv6_allowed',
    'VIF.remove_trunks',
    'VIF.set_ipv4_allowed',
    'VIF.set_ipv6_allowed',
    'VIF.set_locking_mode',
    'VIF.set_trunks',
    'VIF.unplug',
    'VIF.unplug_force',
    'VLAN.create',
    'VLAN.destroy',
    'VLAN.pool_introduce',
    'VM.add_to_VCPUs_params_live',
    'VM.add_to_blocked_operations',
    'VM.assert_agile',
    'VM.assert_can_be_recovered',
    'VM.assert_can_boot_here',
    'VM.assert_can_migrate',
    'VM.assert_can_migrate_sender',
    'VM.assert_operation_valid',
    'VM.atomic_set_resident_on',
    'VM.call_host_plugin',
    'VM.call_plugin',
    'VM.checkpoint',
    'VM.clean_reboot',
    'VM.clean_shutdown',
    'VM.clone',
    'VM.compute_memory_overhead',
    'VM.copy',
    'VM.copy_bios_strings',
    'VM.create_new_blob',
    'VM.csvm',
    'VM.get_SRs_required_for_recovery',
    'VM.get_cooperative',
    'VM.get_possible_hosts',
    'VM.get_secureboot_readiness',
    'VM.hard_reboot',
    'VM.hard_reboot_internal',
    'VM.hard_shutdown',
    'VM.import',
    'VM.import_convert',
    'VM.maximise_memory',
    'VM.migrate_send',
    'VM.pause',
    'VM.pool_migrate',
    'VM.pool_migrate_complete',
    'VM.power_state_reset',
    'VM.provision',
    'VM.query_services',
    'VM.recover',
    'VM.remove_from_blocked_operations',
    'VM.restart_device_models',
    'VM.resume',
    'VM.resume_on',
    'VM.retrieve_wlb_recommendations',
    'VM.revert',
    'VM.s3_resume',
    'VM.s3_suspend',
    'VM.send_sysrq',
    'VM.send_trigger',
    'VM.set_VCPUs_number_live',
    'VM.set_actions_after_crash',
    'VM.set_appliance',
    'VM.set_bios_strings',
    'VM.set_blocked_operations',
    'VM.set_groups',
    'VM.set_has_vendor_device',
    'VM.set_is_default_template',
    'VM.set_memory',
    'VM.set_memory_dynamic_range',
    'VM.set_memory_limits',
    'VM.set_memory_static_range',
    'VM.set_memory_target_live',
    'VM.set_order',
    'VM.set_shadow_multiplier_live',
    'VM.set_shutdown_delay',
    'VM.set_start_delay',
    'VM.set_suspend_VDI',
    'VM.set_uefi_mode',
    'VM.shutdown',
    'VM.snapshot',
    'VM.snapshot_with_quiesce',
    'VM.start',
    'VM.start_on',
    'VM.suspend',
    'VM.sysprep',
    'VM.unpause',
    'VM.update_allowed_operations',
    'VM.update_secureboot_certificates_on_boot',
    'VM.update_snapshot_metadata',
    'VM.wait_memory_target_live',
    'VM_appliance.assert_can_be_recovered',
    'VM_appliance.clean_shutdown',
    'VM_appliance.get_SRs_required_for_recovery',
    'VM_appliance.hard_shutdown',
    'VM_appliance.recover',
    'VM_appliance.shutdown',
    'VM_appliance.start',
    'VTPM.create',
    'VTPM.destroy',
    'VTPM.get_contents',
    'VTPM.set_contents',
    'VUSB.create',
    'VUSB.destroy',
    'VUSB.unplug',
    'crashdump.destroy',
    'event.register',
    'event.unregister',
    'host.allocate_resources_for_vm',
    'host.apply_guest_agent_config',
    'host.apply_recommended_guidances',
    'host.apply_updates',
    'host.assert_can_evacuate',
    'host.attach_static_vdis',
    'host.bugreport_upload',
    'host.call_plugin',
    'host.cert_distrib_atom',
    'host.certificate_list',
    'host.certificate_sync',
    'host.cleanup_pool_secret',
    'host.compute_free_memory',
    'host.compute_memory_overhead',
    'host.copy_primary_host_certs',
    'host.create',
    'host.create_new_blob',
    'host.crl_install',
    'host.crl_list',
    'host.crl_uninstall',
    'host.declare_dead',
    'host.destroy',
    'host.detach_static_vdis',
    'host.disable',
    'host.disable_binary_storage',
    'host.disable_display',
    'host.disable_ssh',
    'host.dmesg',
    'host.dmesg_clear',
    'host.enable',
    'host.enable_binary_storage',
    'host.enable_display',
    'host.enable_ssh',
    'host.evacuate',
    'host.get_log',
    'host.get_management_interface',
    'host.get_ntp_servers_status',
    'host.get_ntp_synchronized',
    'host.get_sched_gran',
    'host.get_server_certificate',
    'host.get_tracked_user_agents',
    'host.get_uncooperative_domains',
    'host.get_uncooperative_resident_VMs',
    'host.get_vms_which_prevent_evacuation',
    'host.ha_disable_failover_decisions',
    'host.ha_disarm_fencing',
    'host.ha_join_liveset',
    'host.ha_release_resources',
    'host.ha_stop_daemon',
    'host.ha_wait_for_shutdown_via_statefile',
    'host.has_extension',
    'host.install_ca_certificate',
    'host.install_server_certificate',
    'host.license_add',
    'host.license_apply',
    'host.license_remove',
    'host.list_timezones',
    'host.management_reconfigure',
    'host.migrate_receive',
    'host.mxgpu_vf_setup',
    'host.notify',
    'host.notify_accept_new_pool_secret',
    'host.notify_send_new_pool_secret',
    'host.nvidia_vf_setup',
    'host.power_on',
    'host.preconfigure_ha',
    'host.prepare_for_poweroff',
    'host.reboot',
    'host.refresh_pack_info',
    'host.refresh_server_certificate',
    'host.rescan_drivers',
    'host.reset_networking',
    'host.reset_server_certificate',
    'host.restart_agent',
    'host.retrieve_wlb_evacuate_recommendations',
    'host.send_debug_keys',
    'host.set_console_idle_timeout',
    'host.set_https_only',
    'host.set_iscsi_iqn',
    'host.set_license_params',
    'host.set_localdb_key',
    'host.set_max_cstate',
    'host.set_multipathing',
    'host.set_ntp_custom_servers',
    'host.set_ntp_mode',
    'host.set_numa_affinity_policy',
    'host.set_power_on_mode',
    'host.set_sched_gran',
    'host.set_servertime',
    'host.set_ssh_auto_mode',
    'host.set_ssh_enabled_timeout',
    'host.set_ssl_legacy',
    'host.set_timezone',
    'host.set_uefi_certificates',
    'host.shutdown',
    'host.syslog_reconfigure',
    'host.uninstall_ca_certificate',
    'host.update_master',
    'host.update_pool_secret',
    'host.write_uefi_certificates_to_disk',
    'host_crashdump.destroy',
    'host_crashdump.upload',
    'host_patch.apply',
    'host_patch.destroy',
    'message.destroy_all',
    'message.destroy_many',
    'network.add_purpose',
    'network.attach',
    'network.attach_for_vm',
    'network.create_new_blob',
    'network.detach_for_vm',
    'network.pool_introduce',
    'network.remove_purpose',
    'network.set_default_locking_mode',
    'network_sriov.create',
    'network_sriov.destroy',
    'network_sriov.get_remaining_capacity',
    'pool.add_repository',
    'pool.add_to_guest_agent_config',
    'pool.apply_edition',
    'pool.audit_log_append',
    'pool.certificate_install',
    'pool.certificate_list',
    'pool.certificate_sync',
    'pool.certificate_uninstall',
    'pool.check_update_readiness',
    'pool.configure_repository_proxy',
    'pool.configure_update_sync',
    'pool.create_VLAN',
    'pool.create_VLAN_from_PIF',
    'pool.create_new_blob',
    'pool.crl_install',
    'pool.crl_list',
    'pool.crl_uninstall',
    'pool.deconfigure_wlb',
    'pool.designate_new_master',
    'pool.disable_binary_storage',
    'pool.disable_client_certificate_auth',
    'pool.disable_ha',
    'pool.disable_local_storage_caching',
    'pool.disable_redo_log',
    'pool.disable_repository_proxy',
    'pool.disable_ssh',
    'pool.disable_ssl_legacy',
    'pool.eject',
    'pool.enable_binary_storage',
    'pool.enable_client_certificate_auth',
    'pool.enable_ha',
    'pool.enable_local_storage_caching',
    'pool.enable_redo_log',
    'pool.enable_ssh',
    'pool.enable_ssl_legacy',
    'pool.exchange_ca_certificates_on_join',
    'pool.exchange_certificates_on_join',
    'pool.exchange_crls_on_join',
    'pool.exchange_trusted_certificates_on_join',
    'pool.get_license_state',
    'pool.ha_schedule_plan_recomputation',
    'pool.has_extension',
    'pool.hello',
    'pool.initial_auth',
    'pool.initialize_wlb',
    'pool.install_ca_certificate',
    'pool.install_trusted_certificate',
    'pool.join',
    'pool.join_force',
    'pool.management_reconfigure',
    'pool.recover_slaves',
    'pool.remove_from_guest_agent_config',
    'pool.remove_repository',
    'pool.reset_telemetry_uuid',
    'pool.retrieve_wlb_configuration',
    'pool.retrieve_wlb_recommendations',
    'pool.rotate_secret',
    'pool.send_test_post',
    'pool.send_wlb_configuration',
    'pool.set_console_idle_timeout',
    'pool.set_custom_uefi_certificates',
    'pool.set_ext_auth_cache_enabled',
    'pool.set_ext_auth_cache_expiry',
    'pool.set_ext_auth_cache_size',
    'pool.set_ha_host_failures_to_tolerate',
    'pool.set_https_only',
    'pool.set_igmp_snooping_enabled',
    'pool.set_repositories',
    'pool.set_ssh_auto_mode',
    'pool.set_ssh_enabled_timeout',
    'pool.set_telemetry_next_collection',
    'pool.set_uefi_certificates',
    'pool.set_update_sync_enabled',
    'pool.set_vswitch_controller',
    'pool.sync_database',
    'pool.sync_trusted_certificates_from',
    'pool.sync_updates',
    'pool.uninstall_ca_certificate',
    'pool.uninstall_trusted_certificate',
    'pool_patch.apply',
    'pool_patch.clean',
    'pool_patch.clean_on_host',
    'pool_patch.destroy',
    'pool_patch.pool_apply',
    'pool_patch.pool_clean',
    'pool_patch.precheck',
    'pool_update.apply',
    'pool_update.attach',
    'pool_update.destroy',
    'pool_update.detach',
    'pool_update.introduce',
    'pool_update.pool_apply',
    'pool_update.pool_clean',
    'pool_update.precheck',
    'pool_update.resync_host',
    'session.create_from_db_file',
    'session.get_all_subject_identifiers',
    'session.logout_subject_identifier',
    'task.add_to_other_config',
    'task.cancel',
    'task.remove_from_other_config',
    'task.set_other_config',
    'tunnel.create',
    'tunnel.destroy',
]

# Explicit messages whose lifecycle is Removed (server answers MESSAGE_REMOVED).
REMOVED_MESSAGES = sorted(['VM.set_protection_policy', 'VM.snapshot_with_quiesce', 'VMPP.add_to_alarm_config', 'VMPP.add_to_archive_schedule', 'VMPP.add_to_archive_target_config', 'VMPP.add_to_backup_schedule', 'VMPP.archive_now', 'VMPP.create_alert', 'VMPP.get_alerts', 'VMPP.protect_now', 'VMPP.remove_from_alarm_config', 'VMPP.remove_from_archive_schedule', 'VMPP.remove_from_archive_target_config', 'VMPP.remove_from_backup_schedule', 'VMPP.set_alarm_config', 'VMPP.set_archive_frequency', 'VMPP.set_archive_last_run_time', 'VMPP.set_archive_schedule', 'VMPP.set_archive_target_config', 'VMPP.set_archive_target_type', 'VMPP.set_backup_frequency', 'VMPP.set_backup_last_run_time', 'VMPP.set_backup_retention_value', 'VMPP.set_backup_schedule', 'VMPP.set_is_alarm_enabled', 'VMPP.set_is_archive_running', 'VMPP.set_is_backup_running', 'host.apply_recommended_guidances', 'host.license_apply', 'host.reset_cpu_features', 'host.set_cpu_features', 'pool.enable_ssl_legacy'])

# Implicit constructor/destructor: xapi generates create/destroy for every class in
# the DB but only exposes them for classes with gen_constructor_destructor=true;
# whenever exposed they always have Async.<Class>.create / Async.<Class>.destroy
# variants (the generated messages are marked async unconditionally).  Classes
# without the implicit pair may still declare their own explicit create/destroy
# (those follow their own flags and appear in SYNC_ONLY / EXPLICIT_ASYNC).
IMPLICIT_CTOR_DTOR_ASYNC = True
IMPLICIT_CTOR_DTOR_NO_ASYNC_CLASSES = []
IMPLICIT_CTOR_DTOR_CLASSES = ['subject', 'VM', 'VMPP', 'VMSS', 'VM_appliance', 'network', 'VIF', 'VDI', 'VBD', 'PBD', 'console', 'user', 'secret', 'PVS_cache_storage', 'Observer', 'VM_group', 'Caller', 'Rate_limit']

# Classes with get_all / get_all_records / get_all_records_where / get_all_where
# exposed on the wire (every DB class except those listed in NO_GET_ALL_CLASSES).
GET_ALL_CLASSES = ['subject', 'role', 'task', 'pool', 'pool_patch', 'pool_update', 'VM', 'VM_metrics', 'VM_guest_metrics', 'VMPP', 'VMSS', 'VM_appliance', 'DR_task', 'host', 'host_crashdump', 'host_patch', 'host_metrics', 'host_cpu', 'network', 'VIF', 'VIF_metrics', 'PIF', 'PIF_metrics', 'Bond', 'VLAN', 'SM', 'SR', 'VDI', 'VBD', 'VBD_metrics', 'PBD', 'crashdump', 'VTPM', 'console', 'blob', 'secret', 'tunnel', 'network_sriov', 'PCI', 'PGPU', 'GPU_group', 'VGPU', 'VGPU_type', 'PVS_site', 'PVS_server', 'PVS_proxy', 'PVS_cache_storage', 'Feature', 'SDN_controller', 'PUSB', 'USB_group', 'VUSB', 'Cluster', 'Cluster_host', 'Certificate', 'Repository', 'Observer', 'VM_group', 'Host_driver', 'Driver_variant', 'Caller', 'Rate_limit']
NO_GET_ALL_CLASSES = ['session', 'LVHD', 'user']
# Classes that get an implicit get_by_name_label (they have a name_label field).
GET_BY_NAME_LABEL_CLASSES = ['role', 'task', 'pool_patch', 'pool_update', 'VM', 'VMPP', 'VMSS', 'VM_appliance', 'host', 'host_patch', 'network', 'SM', 'SR', 'VDI', 'blob', 'GPU_group', 'PVS_site', 'Feature', 'USB_group', 'Repository', 'Observer', 'VM_group', 'Caller', 'Rate_limit']

# ---------------------------------------------------------------------------
# Tables whose writes are not persisted (persist=PersistNothing).
NON_PERSISTENT_CLASSES = ['session', 'auth', 'task', 'event', 'VIF_metrics', 'sr_stat', 'probe_result', 'VBD_metrics', 'data_source', 'message', 'vdi_nbd_server_info', 'Diagnostics']
# Classes that generate no events (gen_events=false).  Note 'message' does
# generate events although it has no DB table (messages are stored separately).
NO_EVENT_CLASSES = ['session', 'auth', 'event', 'sr_stat', 'probe_result', 'user', 'data_source', 'secret', 'vdi_nbd_server_info', 'Diagnostics']
# Classes that have no DB table at all (in_db=false): no implicit messages,
# no get_record/get_all/get_by_uuid, no field accessors.
NOT_IN_DATABASE_CLASSES = ['auth', 'event', 'sr_stat', 'probe_result', 'data_source', 'message', 'vdi_nbd_server_info', 'Diagnostics']
# Lifecycle state of classes that are not simply 'published'.
CLASS_LIFECYCLE = {'pool_patch': 'deprecated', 'VMPP': 'removed', 'host_patch': 'deprecated', 'host_cpu': 'deprecated', 'VIF_metrics': 'removed', 'VBD_metrics': 'removed', 'crashdump': 'deprecated', 'VTPM': 'prototyped', 'user': 'deprecated', 'Observer': 'prototyped', 'VM_group': 'prototyped', 'Host_driver': 'prototyped', 'Driver_variant': 'prototyped', 'Caller': 'prototyped', 'Rate_limit': 'prototyped'}


# ---------------------------------------------------------------------------
# xe output layout (facts from the CLI printer, for reference):
#  * Each record is printed as lines "<key>: <value>", where <key> is the param
#    name plus its access marker (e.g. "name-label ( RW)", plus " [DEPRECATED]"
#    when deprecated).  Let W = 4 + the longest key of that record: the first
#    key is left-aligned and padded on the right to W, every following key is
#    right-aligned (padded on the left) to W.  Each record ends with a newline
#    and records are separated by one blank line.
#  * --minimal prints, for -list, the value of the first selected param of each
#    record (normally uuid), comma-separated, with ',' and '\\' in values
#    backslash-escaped.
#  * A param whose getter fails with HANDLE_INVALID prints '<invalid reference>';
#    unresolvable refs inside values print '<not in database>' (as noted per param).
# ---------------------------------------------------------------------------
# XE_FIELD_NAMES: parameters printed by `xe <class>-param-list uuid=...`, in print
# order.  Each entry: (xe name, wire field of the class or None, comment).  The
# comment starts with the access marker xe prints after the name: '( RO)', '( RW)',
# '(SRO)', '(SRW)' (sets), '(MRO)', '(MRW)' (maps); deprecated params additionally
# get ' [DEPRECATED]' after the marker.  Values: sets are joined with '; ' unless
# noted (', ' for tags and a few legacy params), maps as 'k: v; k2: v2', refs as
# the UUID of the referenced object.  Hidden params (never printed by param-list
# or -list, not even with params=...; readable through param-get) are excluded
# here and listed in XE_HIDDEN_PARAMS.
# 'expensive' params are printed normally by param-list, but -list shows
# '<expensive field>' for them.  A wire field is given where the param shows one
# field of the record itself (possibly reformatted or ref->UUID); None where it is
# computed from other objects or calls.  '<not in database>' is xe's placeholder
# for unresolvable refs/missing metrics.  Enum rendering: record_util functions that
# are not overridden print the wire enum value; overridden ones are described.
XE_FIELD_NAMES = {
    'vm': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RW) string as stored'),
        ('name-description', 'name_description', '( RW) string as stored'),
        ('user-version', 'user_version', '( RW) decimal integer'),
        ('is-a-template', 'is_a_template', '( RW) true/false'),
        ('is-default-template', 'is_default_template', '( RW) true/false'),
        ('is-a-snapshot', 'is_a_snapshot', '( RO) true/false'),
        ('snapshot-of', 'snapshot_of', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('snapshots', 'snapshots', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('snapshot-time', 'snapshot_time', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('snapshot-info', 'snapshot_info', "( RO) map printed 'k: v; k2: v2'"),
        ('parent', 'parent', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('children', 'children', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('is-control-domain', 'is_control_domain', '( RO) true/false'),
        ('power-state', 'power_state', '( RO) enum value; rendered: power state in lower case (halted/paused/running/suspended)'),
        ('memory-actual', None, "( RO) VM_metrics.memory_actual of VM.metrics (decimal); '<not in database>' if no metrics record"),
        ('memory-target', None, "( RO) expensive: VM.query_data_source 'memory_target' as integer; 0 if VM not running (VM_BAD_POWER_STATE); '<unknown>' on other errors"),
        ('memory-overhead', 'memory_overhead', '( RO) decimal integer'),
        ('memory-static-max', 'memory_static_max', '( RW) decimal integer'),
        ('memory-dynamic-max', 'memory_dynamic_max', '( RW) decimal integer'),
        ('memory-dynamic-min', 'memory_dynamic_min', '( RW) decimal integer'),
        ('memory-static-min', 'memory_static_min', '( RW) decimal integer'),
        ('suspend-VDI-uuid', 'suspend_VDI', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('suspend-SR-uuid', 'suspend_SR', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('VCPUs-params', 'VCPUs_params', "(MRW) map printed 'k: v; k2: v2'"),
        ('VCPUs-max', 'VCPUs_max', '( RW) decimal integer'),
        ('VCPUs-at-startup', 'VCPUs_at_startup', '( RW) decimal integer'),
        ('actions-after-shutdown', 'actions_after_shutdown', '( RW) enum value; rendered: capitalised: Destroy / Restart'),
        ('actions-after-softreboot', 'actions_after_softreboot', '( RW) enum value; rendered: capitalised: Destroy / Restart / Preserve / Soft reboot'),
        ('actions-after-reboot', 'actions_after_reboot', '( RW) enum value; rendered: capitalised: Destroy / Restart'),
        ('actions-after-crash', 'actions_after_crash', '( RW) enum value; rendered: capitalised: Destroy / Core dump and destroy / Restart / Core dump and restart / Preserve / Rename restart'),
        ('console-uuids', 'consoles', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('hvm', None, "( RO) VM_metrics.hvm (true/false); 'false' if no metrics"),
        ('platform', 'platform', "(MRW) map printed 'k: v; k2: v2'"),
        ('numa-optimised', None, "( RO) VM_metrics.numa_optimised; 'false' if no metrics"),
        ('numa-nodes', None, "( RO) VM_metrics.numa_nodes; '0' if no metrics"),
        ('numa-node-memory', None, "(MRO) VM_metrics.numa_node_memory printed 'node: bytes; ...'; '[]' if no metrics"),
        ('allowed-operations', 'allowed_operations', "(SRO) set of enum values joined by '; '; rendered: VM operations mostly as wire names, but assert_operation_valid->'assertoperationvalid', data_source_op->'data_sources_op'; unknown ones '(unknown operation)'"),
        ('current-operations', 'current_operations', "(SRO) names of the operations in progress (map values) joined by '; '; rendered: VM operations mostly as wire names, but assert_operation_valid->'assertoperationvalid', data_source_op->'data_sources_op'; unknown ones '(unknown operation)'"),
        ('blocked-operations', 'blocked_operations', "(MRW) map operation -> reason printed 'op: v; ...' (operation names as vm_operation_to_string); rendered: VM operations mostly as wire names, but assert_operation_valid->'assertoperationvalid', data_source_op->'data_sources_op'; unknown ones '(unknown operation)'"),
        ('allowed-VBD-devices', None, "(SRO) expensive: VM.get_allowed_VBD_devices joined by '; ' (empty on error)"),
        ('allowed-VIF-devices', None, "(SRO) expensive: VM.get_allowed_VIF_devices joined by '; ' (empty on error)"),
        ('possible-hosts', None, "( RO) expensive: UUIDs of VM.get_possible_hosts joined by '; '"),
        ('domain-type', 'domain_type', "( RW) enum value; rendered: domain type; pv_in_pvh printed as 'pv-in-pvh', others as wire value"),
        ('current-domain-type', None, "( RO) VM_metrics.current_domain_type (as domain-type); '<not in database>' if no metrics"),
        ('HVM-boot-policy', 'HVM_boot_policy', '( RW) string as stored'),
        ('HVM-boot-params', 'HVM_boot_params', "(MRW) map printed 'k: v; k2: v2'"),
        ('HVM-shadow-multiplier', 'HVM_shadow_multiplier', '( RW) float printed with 3 decimals'),
        ('PV-kernel', 'PV_kernel', '( RW) string as stored'),
        ('PV-ramdisk', 'PV_ramdisk', '( RW) string as stored'),
        ('PV-args', 'PV_args', '( RW) string as stored'),
        ('PV-legacy-args', 'PV_legacy_args', '( RW) string as stored'),
        ('PV-bootloader', 'PV_bootloader', '( RW) string as stored'),
        ('PV-bootloader-args', 'PV_bootloader_args', '( RW) string as stored'),
        ('last-boot-CPU-flags', 'last_boot_CPU_flags', "( RO) map printed 'k: v; k2: v2'"),
        ('last-boot-record', 'last_booted_record', '( RO) expensive: the string wrapped in single quotes'),
        ('resident-on', 'resident_on', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('affinity', 'affinity', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('dom-id', 'domid', '( RO) decimal integer'),
        ('recommendations', 'recommendations', '( RO) string as stored'),
        ('xenstore-data', 'xenstore_data', "(MRW) map printed 'k: v; k2: v2'"),
        ('ha-always-run', 'ha_always_run', '( RW) [DEPRECATED] true/false'),
        ('ha-restart-priority', 'ha_restart_priority', '( RW) string as stored'),
        ('blobs', 'blobs', "( RO) map of name -> referenced object's UUID, printed 'k: uuid; ...'"),
        ('start-time', None, "( RO) VM_metrics.start_time as datetime; '<unknown time>' if no metrics"),
        ('install-time', None, "( RO) VM_metrics.install_time as datetime; '<unknown time>' if no metrics"),
        ('VCPUs-number', None, "( RO) VM_metrics.VCPUs_number; '<not in database>' if no metrics"),
        ('VCPUs-utilisation', None, "(MRO) expensive: per-vCPU 'N: <cpuN data source, %.3f>' joined by '; ' (N from VM_metrics.VCPUs_number)"),
        ('os-version', None, "(MRO) VM_guest_metrics.os_version of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('netbios-name', None, "(MRO) VM_guest_metrics.netbios_name of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('PV-drivers-version', None, "(MRO) VM_guest_metrics.PV_drivers_version of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('PV-drivers-up-to-date', None, "( RO) [DEPRECATED] VM_guest_metrics.PV_drivers_up_to_date of the VM_guest_metrics record (true/false); '<not in database>' if there is no such record"),
        ('memory', None, "(MRO) VM_guest_metrics.memory of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('disks', None, "(MRO) VM_guest_metrics.disks of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('VBDs', 'VBDs', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('networks', None, "(MRO) VM_guest_metrics.networks of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('services', None, "(MRO) VM_guest_metrics.services of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('PV-drivers-detected', None, "( RO) VM_guest_metrics.PV_drivers_detected of the VM_guest_metrics record (true/false); '<not in database>' if there is no such record"),
        ('other', None, "(MRO) VM_guest_metrics.other of the VM_guest_metrics record (map printed 'k: v; k2: v2'); '<not in database>' if there is no such record"),
        ('live', None, "( RO) VM_guest_metrics.live of the VM_guest_metrics record (true/false); '<not in database>' if there is no such record"),
        ('guest-metrics-last-updated', None, "( RO) VM_guest_metrics.last_updated of the VM_guest_metrics record (datetime, e.g. 19700101T00:00:00Z); '<not in database>' if there is no such record"),
        ('can-use-hotplug-vbd', None, "( RO) VM_guest_metrics.can_use_hotplug_vbd of the VM_guest_metrics record (enum value; rendered: yes->true, no->false, unspecified->unspecified); '<not in database>' if there is no such record"),
        ('can-use-hotplug-vif', None, "( RO) VM_guest_metrics.can_use_hotplug_vif of the VM_guest_metrics record (enum value; rendered: yes->true, no->false, unspecified->unspecified); '<not in database>' if there is no such record"),
        ('cooperative', None, '( RO) [DEPRECATED] expensive: VM.get_cooperative (true on error)'),
        ('tags', 'tags', "(SRW) set joined by ', '"),
        ('appliance', 'appliance', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('groups', 'groups', "( RW) UUIDs of the referenced objects joined by '; '"),
        ('secureboot-certificates-state', 'secureboot_certificates_state', '( RO) enum value; rendered as the wire enum value'),
        ('snapshot-schedule', 'snapshot_schedule', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('is-vmss-snapshot', 'is_vmss_snapshot', '( RO) true/false'),
        ('start-delay', 'start_delay', '( RW) decimal integer'),
        ('shutdown-delay', 'shutdown_delay', '( RW) decimal integer'),
        ('order', 'order', '( RW) decimal integer'),
        ('version', 'version', '( RO) decimal integer'),
        ('generation-id', 'generation_id', '( RO) string as stored'),
        ('hardware-platform-version', 'hardware_platform_version', '( RO) decimal integer'),
        ('has-vendor-device', 'has_vendor_device', '( RW) true/false'),
        ('requires-reboot', 'requires_reboot', '( RO) true/false'),
        ('reference-label', 'reference_label', '( RO) string as stored'),
        ('bios-strings', 'bios_strings', "(MRO) map printed 'k: v; k2: v2'"),
        ('pending-guidances', 'pending_guidances', "( RO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('vtpms', 'VTPMs', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('pending-guidances-recommended', 'pending_guidances_recommended', "( RO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('pending-guidances-full', 'pending_guidances_full', "( RO) set of enum values joined by '; '; rendered as the wire enum value"),
    ],
    'host': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RW) string as stored'),
        ('name-description', 'name_description', '( RW) string as stored'),
        ('allowed-operations', 'allowed_operations', "(SRO) set of enum values joined by '; '; rendered: host operations as wire names except vm_start/vm_resume/vm_migrate printed 'VM.start'/'VM.resume'/'VM.migrate'"),
        ('current-operations', 'current_operations', "(SRO) names of the operations in progress (map values) joined by '; '; rendered: host operations as wire names except vm_start/vm_resume/vm_migrate printed 'VM.start'/'VM.resume'/'VM.migrate'"),
        ('enabled', 'enabled', '( RO) true/false'),
        ('display', 'display', '( RO) enum value; rendered as the wire enum value'),
        ('API-version-major', 'API_version_major', '( RO) decimal integer'),
        ('API-version-minor', 'API_version_minor', '( RO) decimal integer'),
        ('API-version-vendor', 'API_version_vendor', '( RO) string as stored'),
        ('API-version-vendor-implementation', 'API_version_vendor_implementation', "(MRO) map printed 'k: v; k2: v2'"),
        ('logging', 'logging', "(MRW) map printed 'k: v; k2: v2'"),
        ('suspend-image-sr-uuid', 'suspend_image_sr', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('crash-dump-sr-uuid', 'crash_dump_sr', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('software-version', 'software_version', "(MRO) map printed 'k: v; k2: v2'"),
        ('capabilities', 'capabilities', "(SRO) set joined by '; '"),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('cpu_info', 'cpu_info', "(MRO) map printed 'k: v; k2: v2'"),
        ('chipset-info', 'chipset_info', "(MRO) map printed 'k: v; k2: v2'"),
        ('hostname', 'hostname', '( RO) string as stored'),
        ('address', 'address', '( RO) string as stored'),
        ('https-only', 'https_only', '( RW) true/false'),
        ('supported-bootloaders', 'supported_bootloaders', "(SRO) set joined by '; '"),
        ('blobs', 'blobs', "( RO) map of name -> referenced object's UUID, printed 'k: uuid; ...'"),
        ('memory-overhead', 'memory_overhead', '( RO) decimal integer'),
        ('memory-total', None, "( RO) host_metrics.memory_total of host.metrics; '<not in database>' if none"),
        ('memory-free', None, "( RO) host_metrics.memory_free; '<not in database>' if none"),
        ('memory-free-computed', None, '( RO) expensive: host.compute_free_memory'),
        ('host-metrics-live', None, "( RO) host_metrics.live (true/false); '<not in database>' if none"),
        ('patches', None, "(SRO) [DEPRECATED] UUIDs of the pool_patch of each host_patch in host.patches, joined by ', '"),
        ('updates', 'updates', "(SRO) UUIDs of the pool_update refs in host.updates, joined by ', '"),
        ('ha-statefiles', 'ha_statefiles', "( RO) each entry is a VDI ref string; printed as that VDI's UUID, joined by '; '"),
        ('ha-network-peers', 'ha_network_peers', "( RO) set joined by '; '"),
        ('external-auth-type', 'external_auth_type', '( RO) string as stored'),
        ('external-auth-service-name', 'external_auth_service_name', '( RO) string as stored'),
        ('external-auth-configuration', 'external_auth_configuration', "(MRO) map printed 'k: v; k2: v2'"),
        ('edition', 'edition', '( RO) string as stored'),
        ('license-server', 'license_server', "(MRO) map printed 'k: v; k2: v2'"),
        ('power-on-mode', 'power_on_mode', '( RO) string as stored'),
        ('power-on-config', 'power_on_config', "(MRO) map printed 'k: v; k2: v2'"),
        ('local-cache-sr', 'local_cache_sr', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('tags', 'tags', "(SRW) set joined by ', '"),
        ('ssl-legacy', 'ssl_legacy', '( RW) true/false'),
        ('guest_VCPUs_params', 'guest_VCPUs_params', "(MRW) map printed 'k: v; k2: v2'"),
        ('virtual-hardware-platform-versions', 'virtual_hardware_platform_versions', "(SRO) integers joined by '; '"),
        ('control-domain-uuid', 'control_domain', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('resident-vms', 'resident_VMs', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('updates-requiring-reboot', 'updates_requiring_reboot', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('features', 'features', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('iscsi_iqn', 'iscsi_iqn', '( RW) string as stored'),
        ('multipathing', 'multipathing', '( RW) true/false'),
        ('numa-affinity-policy', 'numa_affinity_policy', '( RW) enum value; rendered as the wire enum value'),
        ('pending-guidances', 'pending_guidances', "( RO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('tls-verification-enabled', 'tls_verification_enabled', '( RO) true/false'),
        ('last-software-update', 'last_software_update', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('latest-synced-updates-applied', 'latest_synced_updates_applied', '( RO) enum value; rendered as the wire enum value'),
        ('pending-guidances-recommended', 'pending_guidances_recommended', "( RO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('pending-guidances-full', 'pending_guidances_full', "( RO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('last-update-hash', 'last_update_hash', '( RO) string as stored'),
        ('ssh-enabled', 'ssh_enabled', '( RO) true/false'),
        ('ssh-enabled-timeout', 'ssh_enabled_timeout', '( RW) decimal integer'),
        ('ssh-expiry', 'ssh_expiry', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('console-idle-timeout', 'console_idle_timeout', '( RW) decimal integer'),
        ('ssh-auto-mode', 'ssh_auto_mode', '( RW) true/false'),
        ('max-cstate', 'max_cstate', '( RW) string as stored'),
        ('secure-boot', 'secure_boot', '( RO) true/false'),
        ('ntp-mode', 'ntp_mode', '( RW) enum value; rendered as the wire enum value'),
        ('ntp-custom-servers', 'ntp_custom_servers', "(SRO) set joined by ', '"),
        ('timezone', 'timezone', '( RW) string as stored'),
    ],
    'sr': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RW) string as stored'),
        ('name-description', 'name_description', '( RW) string as stored'),
        ('host', None, "( RO) if SR.PBDs has more than one PBD: '<shared>'; otherwise name_label of the single PBD's host ('<not in database>' when there is no PBD)"),
        ('allowed-operations', 'allowed_operations', "(SRO) set of enum values joined by '; '; rendered: SR operations; vdi_* printed as 'VDI.<op>' (e.g. VDI.create), pbd_create/pbd_destroy as 'PBD.create'/'PBD.destroy'"),
        ('current-operations', 'current_operations', "(SRO) names of the operations in progress (map values) joined by '; '; rendered: SR operations; vdi_* printed as 'VDI.<op>' (e.g. VDI.create), pbd_create/pbd_destroy as 'PBD.create'/'PBD.destroy'"),
        ('VDIs', 'VDIs', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('PBDs', 'PBDs', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('virtual-allocation', 'virtual_allocation', '( RO) decimal integer'),
        ('physical-utilisation', 'physical_utilisation', '( RO) decimal integer'),
        ('physical-size', 'physical_size', '( RO) decimal integer'),
        ('type', 'type', '( RO) string as stored'),
        ('content-type', 'content_type', '( RO) string as stored'),
        ('shared', 'shared', '( RW) true/false'),
        ('introduced-by', 'introduced_by', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('is-tools-sr', 'is_tools_sr', '( RO) true/false'),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('sm-config', 'sm_config', "(MRO) map printed 'k: v; k2: v2'"),
        ('blobs', 'blobs', "( RO) map of name -> referenced object's UUID, printed 'k: uuid; ...'"),
        ('local-cache-enabled', 'local_cache_enabled', '( RO) true/false'),
        ('tags', 'tags', "(SRW) set joined by ', '"),
        ('clustered', 'clustered', '( RO) true/false'),
    ],
    'vdi': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RW) string as stored'),
        ('name-description', 'name_description', '( RW) string as stored'),
        ('is-a-snapshot', 'is_a_snapshot', '( RO) true/false'),
        ('snapshot-of', 'snapshot_of', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('snapshots', 'snapshots', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('snapshot-time', 'snapshot_time', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('allowed-operations', 'allowed_operations', "(SRO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('current-operations', 'current_operations', "(SRO) names of the operations in progress (map values) joined by '; '; rendered as the wire enum value"),
        ('sr-uuid', 'SR', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('sr-name-label', None, '( RO) name_label of VDI.SR'),
        ('vbd-uuids', 'VBDs', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('crashdump-uuids', 'crash_dumps', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('virtual-size', 'virtual_size', '( RO) decimal integer'),
        ('physical-utilisation', 'physical_utilisation', '( RO) decimal integer'),
        ('location', 'location', '( RO) string as stored'),
        ('type', 'type', '( RO) enum value; rendered: capitalised/spaced: System, User, Ephemeral, Suspend, Crashdump, HA statefile, Metadata, Redo log, rrd, PVS cache, CBT metadata'),
        ('sharable', 'sharable', '( RO) true/false'),
        ('read-only', 'read_only', '( RO) true/false'),
        ('storage-lock', 'storage_lock', '( RO) true/false'),
        ('managed', 'managed', '( RO) true/false'),
        ('parent', 'parent', "( RO) [DEPRECATED] UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('missing', 'missing', '( RO) true/false'),
        ('is-tools-iso', 'is_tools_iso', '( RO) true/false'),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('xenstore-data', 'xenstore_data', "(MRO) map printed 'k: v; k2: v2'"),
        ('sm-config', 'sm_config', "(MRO) map printed 'k: v; k2: v2'"),
        ('on-boot', 'on_boot', '( RW) enum value; rendered as the wire enum value'),
        ('allow-caching', 'allow_caching', '( RW) true/false'),
        ('metadata-latest', 'metadata_latest', '( RO) true/false'),
        ('metadata-of-pool', None, "( RO) if VDI.metadata_of_pool is the local pool: its UUID; otherwise VDI.read_database_pool_uuid, or '<not in database>' if that is empty"),
        ('tags', 'tags', "(SRW) set joined by ', '"),
        ('cbt-enabled', 'cbt_enabled', '( RO) true/false'),
    ],
    'vbd': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('vm-uuid', 'VM', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('vm-name-label', None, '( RO) name_label of VBD.VM'),
        ('vdi-uuid', 'VDI', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('vdi-name-label', None, "( RO) '<EMPTY>' if VBD.empty, else name_label of VBD.VDI"),
        ('allowed-operations', 'allowed_operations', "(SRO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('current-operations', 'current_operations', "(SRO) names of the operations in progress (map values) joined by '; '; rendered as the wire enum value"),
        ('empty', 'empty', '( RO) true/false'),
        ('device', 'device', '( RO) string as stored'),
        ('userdevice', 'userdevice', '( RW) string as stored'),
        ('bootable', 'bootable', '( RW) true/false'),
        ('mode', 'mode', '( RW) RO / RW'),
        ('type', 'type', '( RW) CD / Disk / Floppy'),
        ('unpluggable', 'unpluggable', '( RW) true/false'),
        ('currently-attached', 'currently_attached', '( RO) true/false'),
        ('attachable', None, "( RO) expensive: 'true' if VBD.assert_attachable succeeds, else 'false (error: ...)'"),
        ('storage-lock', 'storage_lock', '( RO) true/false'),
        ('status-code', 'status_code', '( RO) decimal integer'),
        ('status-detail', 'status_detail', '( RO) string as stored'),
        ('qos_algorithm_type', 'qos_algorithm_type', '( RW) string as stored'),
        ('qos_algorithm_params', 'qos_algorithm_params', "(MRW) map printed 'k: v; k2: v2'"),
        ('qos_supported_algorithms', 'qos_supported_algorithms', "(SRO) set joined by '; '"),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('io_read_kbs', None, "( RO) expensive: VM data source 'vbd_<device>_read' / 1024, %.3f; '<unknown>' on error"),
        ('io_write_kbs', None, "( RO) expensive: VM data source 'vbd_<device>_write' / 1024, %.3f; '<unknown>' on error"),
    ],
    'vif': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('vm-uuid', 'VM', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('vm-name-label', None, '( RO) name_label of VIF.VM'),
        ('allowed-operations', 'allowed_operations', "(SRO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('current-operations', 'current_operations', "(SRO) names of the operations in progress (map values) joined by '; '; rendered as the wire enum value"),
        ('device', 'device', '( RO) string as stored'),
        ('MAC', 'MAC', '( RO) string as stored'),
        ('MAC-autogenerated', 'MAC_autogenerated', '( RO) true/false'),
        ('MTU', 'MTU', '( RO) decimal integer'),
        ('currently-attached', 'currently_attached', '( RO) true/false'),
        ('qos_algorithm_type', 'qos_algorithm_type', '( RW) string as stored'),
        ('qos_algorithm_params', 'qos_algorithm_params', "(MRW) map printed 'k: v; k2: v2'"),
        ('qos_supported_algorithms', 'qos_supported_algorithms', "(SRO) set joined by '; '"),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('network-uuid', 'network', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('network-name-label', None, '( RO) name_label of VIF.network'),
        ('io_read_kbs', None, "( RO) expensive: VM data source 'vif_<device>_rx' / 1024, %.3f; '<unknown>' on error"),
        ('io_write_kbs', None, "( RO) expensive: VM data source 'vif_<device>_tx' / 1024, %.3f; '<unknown>' on error"),
        ('locking-mode', 'locking_mode', '( RW) enum value; rendered as the wire enum value'),
        ('ipv4-allowed', 'ipv4_allowed', "(SRW) set joined by '; '"),
        ('ipv6-allowed', 'ipv6_allowed', "(SRW) set joined by '; '"),
        ('ipv4-configuration-mode', 'ipv4_configuration_mode', '( RO) enum value; rendered as the wire enum value'),
        ('ipv4-addresses', 'ipv4_addresses', "( RO) set joined by '; '"),
        ('ipv4-gateway', 'ipv4_gateway', '( RO) string as stored'),
        ('ipv6-configuration-mode', 'ipv6_configuration_mode', '( RO) enum value; rendered as the wire enum value'),
        ('ipv6-addresses', 'ipv6_addresses', "( RO) set joined by '; '"),
        ('ipv6-gateway', 'ipv6_gateway', '( RO) string as stored'),
        ('trunks', 'trunks', "(SRW) integers joined by '; '"),
    ],
    'network': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RW) string as stored'),
        ('name-description', 'name_description', '( RW) string as stored'),
        ('VIF-uuids', 'VIFs', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('PIF-uuids', 'PIFs', "(SRO) UUIDs of the referenced objects joined by '; '"),
        ('MTU', 'MTU', '( RW) decimal integer'),
        ('bridge', 'bridge', '( RO) string as stored'),
        ('managed', 'managed', '( RO) true/false'),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('blobs', 'blobs', "( RO) map of name -> referenced object's UUID, printed 'k: uuid; ...'"),
        ('tags', 'tags', "(SRW) set joined by ', '"),
        ('default-locking-mode', 'default_locking_mode', '( RW) enum value; rendered as the wire enum value'),
        ('purpose', 'purpose', "(SRW) set joined by ', '; rendered as the wire enum value"),
    ],
    'pif': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('device', 'device', '( RO) string as stored'),
        ('MAC', 'MAC', '( RO) string as stored'),
        ('physical', 'physical', '( RO) true/false'),
        ('managed', 'managed', '( RO) true/false'),
        ('currently-attached', 'currently_attached', '( RO) true/false'),
        ('MTU', 'MTU', '( RO) decimal integer'),
        ('VLAN', 'VLAN', '( RO) decimal integer'),
        ('vlan-master-of', 'VLAN_master_of', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('vlan-slave-of', 'VLAN_slave_of', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('bond-master-of', 'bond_master_of', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('bond-slave-of', 'bond_slave_of', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('sriov-physical-PIF-of', 'sriov_physical_PIF_of', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('sriov-logical-PIF-of', 'sriov_logical_PIF_of', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('tunnel-access-PIF-of', 'tunnel_access_PIF_of', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('tunnel-transport-PIF-of', 'tunnel_transport_PIF_of', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('management', 'management', '( RO) true/false'),
        ('network-uuid', 'network', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('network-name-label', None, "( RO) name_label of PIF.network ('<not in database>' on error)"),
        ('host-uuid', 'host', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('host-name-label', None, "( RO) name_label of PIF.host ('<not in database>' on error)"),
        ('IP-configuration-mode', 'ip_configuration_mode', '( RO) enum value; rendered as the wire enum value'),
        ('IP', 'IP', '( RO) string as stored'),
        ('netmask', 'netmask', '( RO) string as stored'),
        ('gateway', 'gateway', '( RO) string as stored'),
        ('IPv6-configuration-mode', 'ipv6_configuration_mode', '( RO) enum value; rendered as the wire enum value'),
        ('IPv6', 'IPv6', "( RO) set joined by '; '"),
        ('IPv6-gateway', 'ipv6_gateway', '( RO) string as stored'),
        ('primary-address-type', 'primary_address_type', '( RO) enum value; rendered as the wire enum value'),
        ('DNS', 'DNS', '( RO) string as stored'),
        ('properties', 'properties', "(MRO) map printed 'k: v; k2: v2'"),
        ('capabilities', 'capabilities', "(SRO) set joined by '; '"),
        ('io_read_kbs', None, "( RO) expensive: host data source 'pif_<device>_rx' / 1024, %.3f; '<unknown>' on error"),
        ('io_write_kbs', None, "( RO) expensive: host data source 'pif_<device>_tx' / 1024, %.3f; '<unknown>' on error"),
        ('carrier', None, "( RO) PIF_metrics.carrier of PIF.metrics; '<not in database>' if none"),
        ('vendor-id', None, "( RO) PIF_metrics.vendor_id; '<not in database>' if none"),
        ('vendor-name', None, "( RO) PIF_metrics.vendor_name; '<not in database>' if none"),
        ('device-id', None, "( RO) PIF_metrics.device_id; '<not in database>' if none"),
        ('device-name', None, "( RO) PIF_metrics.device_name; '<not in database>' if none"),
        ('speed', None, "( RO) PIF_metrics.speed followed by ' Mbit/s'; '<not in database>' if none"),
        ('duplex', None, "( RO) from PIF_metrics: 'full' if duplex, else 'half' if carrier, else 'unknown'; '<not in database>' if none"),
        ('disallow-unplug', 'disallow_unplug', '( RW) true/false'),
        ('pci-bus-path', None, "( RO) PIF_metrics.pci_bus_path; '<not in database>' if none"),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('igmp-snooping-status', 'igmp_snooping_status', '( RO) enum value; rendered as the wire enum value'),
    ],
    'pbd': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('host', 'host', "( RO) [DEPRECATED] UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('host-uuid', 'host', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('host-name-label', None, '( RO) name_label of PBD.host'),
        ('sr-uuid', 'SR', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('sr-name-label', None, '( RO) name_label of PBD.SR'),
        ('device-config', 'device_config', "(MRO) map printed 'k: v; k2: v2'"),
        ('currently-attached', 'currently_attached', '( RO) true/false'),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
    ],
    'pool': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RW) string as stored'),
        ('name-description', 'name_description', '( RW) string as stored'),
        ('master', 'master', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('default-SR', 'default_SR', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('crash-dump-SR', 'crash_dump_SR', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('suspend-image-SR', 'suspend_image_SR', "( RW) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('supported-sr-types', None, "( RO) expensive: SR.get_supported_types joined by '; '"),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('allowed-operations', 'allowed_operations', "(SRO) set of enum values joined by '; '; rendered as the wire enum value"),
        ('current-operations', 'current_operations', "(SRO) names of the operations in progress (map values) joined by '; '; rendered as the wire enum value"),
        ('ha-enabled', 'ha_enabled', '( RO) true/false'),
        ('ha-configuration', 'ha_configuration', "( RO) map printed 'k: v; k2: v2'"),
        ('ha-statefiles', 'ha_statefiles', "( RO) each entry is a VDI ref string; printed as that VDI's UUID, joined by '; '"),
        ('ha-host-failures-to-tolerate', 'ha_host_failures_to_tolerate', '( RW) decimal integer'),
        ('ha-plan-exists-for', 'ha_plan_exists_for', '( RO) decimal integer'),
        ('ha-allow-overcommit', 'ha_allow_overcommit', '( RW) true/false'),
        ('ha-overcommitted', 'ha_overcommitted', '( RO) true/false'),
        ('ha-reboot-vm-on-internal-shutdown', 'ha_reboot_vm_on_internal_shutdown', '( RW) true/false'),
        ('blobs', 'blobs', "( RO) map of name -> referenced object's UUID, printed 'k: uuid; ...'"),
        ('wlb-url', 'wlb_url', '( RO) string as stored'),
        ('wlb-username', 'wlb_username', '( RO) string as stored'),
        ('wlb-enabled', 'wlb_enabled', '( RW) true/false'),
        ('wlb-verify-cert', 'wlb_verify_cert', '( RW) true/false'),
        ('igmp-snooping-enabled', 'igmp_snooping_enabled', '( RW) true/false'),
        ('gui-config', 'gui_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('health-check-config', 'health_check_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('restrictions', 'restrictions', "( RO) map printed 'k: v; k2: v2'"),
        ('tags', 'tags', "(SRW) set joined by ', '"),
        ('license-state', None, "( RO) pool.get_license_state map printed 'k: v; ...'"),
        ('ha-cluster-stack', 'ha_cluster_stack', '( RO) string as stored'),
        ('guest-agent-config', 'guest_agent_config', "(MRW) map printed 'k: v; k2: v2'"),
        ('cpu_info', 'cpu_info', "(MRO) map printed 'k: v; k2: v2'"),
        ('policy-no-vendor-device', 'policy_no_vendor_device', '( RW) true/false'),
        ('live-patching-disabled', 'live_patching_disabled', '( RW) true/false'),
        ('tls-verification-enabled', 'tls_verification_enabled', '( RO) true/false'),
        ('client-certificate-auth-enabled', 'client_certificate_auth_enabled', '( RO) true/false'),
        ('client-certificate-auth-name', 'client_certificate_auth_name', '( RO) string as stored'),
        ('repositories', 'repositories', "(SRW) UUIDs of the referenced objects joined by '; '"),
        ('repository-proxy-url', 'repository_proxy_url', '( RO) string as stored'),
        ('repository-proxy-username', 'repository_proxy_username', '( RO) string as stored'),
        ('https-only', None, '( RW) true iff host.https_only is true on every host'),
        ('migration-compression', 'migration_compression', '( RW) true/false'),
        ('coordinator-bias', 'coordinator_bias', '( RW) true/false'),
        ('telemetry-frequency', 'telemetry_frequency', '( RO) enum value; rendered as the wire enum value'),
        ('telemetry-next-collection', 'telemetry_next_collection', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('last-update-sync', 'last_update_sync', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('update-sync-frequency', 'update_sync_frequency', '( RO) enum value; rendered as the wire enum value'),
        ('update-sync-day', 'update_sync_day', '( RO) decimal integer'),
        ('update-sync-enabled', 'update_sync_enabled', '( RO) true/false'),
        ('auto-update-vm-secureboot-certificates', 'auto_update_vm_secureboot_certificates', '( RW) true/false'),
        ('recommendations', 'recommendations', "(MRO) map printed 'k: v; k2: v2'"),
        ('ext-auth-cache-enabled', 'ext_auth_cache_enabled', '( RW) true/false'),
        ('ext-auth-cache-size', 'ext_auth_cache_size', '( RW) decimal integer'),
        ('ext-auth-cache-expiry', 'ext_auth_cache_expiry', '( RW) decimal integer'),
        ('license-server', 'license_server', "(MRW) map printed 'k: v; k2: v2'"),
        ('ssh-enabled', None, "( RO) host.ssh_enabled if identical on all hosts, else '<inconsistent>'"),
        ('ssh-enabled-timeout', None, "( RW) host.ssh_enabled_timeout if identical on all hosts, else '<inconsistent>'"),
        ('ssh-expiry', None, "( RO) host.ssh_expiry (datetime) if identical on all hosts, else '<inconsistent>'"),
        ('console-idle-timeout', None, "( RW) host.console_idle_timeout if identical on all hosts, else '<inconsistent>'"),
        ('ssh-auto-mode', None, "( RW) host.ssh_auto_mode if identical on all hosts, else '<inconsistent>'"),
        ('limit-console-sessions', 'limit_console_sessions', '( RW) true/false'),
        ('vm-console-idle-timeout', 'vm_console_idle_timeout', '( RW) decimal integer'),
    ],
    'task': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RO) string as stored'),
        ('name-description', 'name_description', '( RO) string as stored'),
        ('subtask_of', 'subtask_of', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('subtasks', 'subtasks', "( RO) UUIDs of the referenced objects joined by '; '"),
        ('resident-on', 'resident_on', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('status', 'status', '( RO) enum value; rendered as the wire enum value'),
        ('progress', 'progress', '( RO) float printed with 3 decimals'),
        ('type', 'type', '( RO) string as stored'),
        ('result', 'result', '( RO) string as stored'),
        ('created', 'created', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('finished', 'finished', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('error_info', 'error_info', "( RO) set joined by '; '"),
        ('allowed_operations', 'allowed_operations', "( RO) set of enum values joined by '; '; rendered: capitalised: Cancel / Destroy"),
        ('current_operations', 'current_operations', "( RO) names of the operations in progress (map values) joined by '; '; rendered: capitalised: Cancel / Destroy"),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
    ],
    'host-cpu': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('host-uuid', 'host', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('number', 'number', '( RO) decimal integer'),
        ('vendor', 'vendor', '( RO) string as stored'),
        ('speed', 'speed', '( RO) decimal integer'),
        ('model', 'model', '( RO) decimal integer'),
        ('family', 'family', '( RO) decimal integer'),
        ('modelname', 'modelname', '( RO) string as stored'),
        ('stepping', 'stepping', '( RO) string as stored'),
        ('flags', 'flags', '( RO) string as stored'),
        ('utilisation', None, "( RO) expensive: host data source 'cpu<number>' (%.3f); '<unknown>' on error"),
    ],
    'console': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('vm-uuid', 'VM', "( RO) UUID of the referenced object ('<not in database>' if null/dangling)"),
        ('vm-name-label', None, '( RO) name_label of console.VM'),
        ('protocol', 'protocol', '( RO) enum value; rendered: upper case: VT100 / RFB / RDP'),
        ('location', 'location', '( RO) string as stored'),
        ('other-config', 'other_config', "(MRW) map printed 'k: v; k2: v2'"),
    ],
    'sm': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name-label', 'name_label', '( RO) string as stored'),
        ('name-description', 'name_description', '( RO) string as stored'),
        ('type', 'type', '( RO) string as stored'),
        ('vendor', 'vendor', '( RO) string as stored'),
        ('copyright', 'copyright', '( RO) string as stored'),
        ('required-api-version', 'required_api_version', '( RO) string as stored'),
        ('capabilities', 'capabilities', "( RO) [DEPRECATED] set joined by '; '"),
        ('features', 'features', "(MRO) map feature -> integer version printed 'k: v; ...'"),
        ('configuration', 'configuration', "( RO) map printed 'k: v; k2: v2'"),
        ('driver-filename', 'driver_filename', '( RO) string as stored'),
        ('required-cluster-stack', 'required_cluster_stack', "( RO) set joined by ', '"),
        ('supported-image-formats', 'supported_image_formats', "( RO) set of enum values joined by '; '; rendered as the wire enum value"),
    ],
    'message': [
        ('uuid', 'uuid', '( RO) string as stored'),
        ('name', 'name', '( RO) string as stored'),
        ('priority', 'priority', '( RO) decimal integer'),
        ('class', 'cls', '( RO) enum value; rendered as the wire enum value'),
        ('obj-uuid', 'obj_uuid', '( RO) string as stored'),
        ('timestamp', 'timestamp', '( RO) datetime, e.g. 19700101T00:00:00Z'),
        ('body', 'body', '( RO) string as stored'),
    ],
}
# xe's 'template' class uses the very same record as 'vm'.
XE_FIELD_NAMES['template'] = XE_FIELD_NAMES['vm']

# Hidden params (only readable by naming them in param-get).
XE_HIDDEN_PARAMS = {'vm': ['transportable-snapshot-id', 'nomigrate', 'nested-virt', 'NVRAM'], 'host': ['uefi-certificates'], 'pool': ['vswitch-controller', 'uefi-certificates', 'custom-uefi-certificates']}
XE_HIDDEN_PARAMS['template'] = XE_HIDDEN_PARAMS['vm']

# ---------------------------------------------------------------------------
# XE_LIST_DEFAULTS: the params shown by `xe <class>-list` when no params=... is
# given, as written in the CLI's command table.  NOTE: xe prints the selected
# params in the RECORD's order (see XE_LIST_PRINT_ORDER), not in this list's order,
# and names that match no param are silently ignored.  An empty list means 'all
# non-hidden params' (same as params=all).  Expensive params show
# '<expensive field>' in -list output.
XE_LIST_DEFAULTS = {
    'vm': ['name-label', 'uuid', 'power-state'],
    'template': ['name-label', 'name-description', 'uuid'],
    'host': ['uuid', 'name-label', 'name-description'],
    'sr': ['uuid', 'name-label', 'name-description', 'host', 'type', 'content-type'],
    'vdi': ['uuid', 'name-label', 'name-description', 'virtual-size', 'read-only', 'sharable', 'sr-uuid'],
    'vbd': ['uuid', 'vm-uuid', 'vm-name-label', 'vdi-uuid', 'device', 'empty'],
    'vif': ['uuid', 'device', 'vm-uuid', 'network-uuid'],
    'network': ['uuid', 'name-label', 'name-description', 'bridge'],
    'pif': ['uuid', 'device', 'VLAN', 'MAC', 'network-uuid', 'currently-attached', 'host-uuid'],
    'pbd': ['uuid', 'host-uuid', 'sr-uuid', 'device-config', 'currently-attached'],
    'pool': ['uuid', 'name-label', 'name-description', 'master', 'default-SR'],
    'task': ['uuid', 'name-label', 'name-description', 'status', 'progress'],
    'host-cpu': ['uuid', 'number', 'vendor', 'speed', 'utilisation'],
    'console': ['uuid', 'vm-uuid', 'vm-name-label', 'protocol', 'location'],
    'sm': ['uuid', 'type', 'name-label', 'name-description', 'vendor', 'copyright', 'configuration'],
    'message': [],  # empty: prints every non-hidden param
    'snapshot': ['name-label', 'name-description', 'uuid', 'snapshot_of', 'snapshot_time', 'is-vmss-snapshot'],  # snapshot_of, snapshot_time match no param of the record, so they are never shown
}

# Order in which -list actually prints the default params (record order).
XE_LIST_PRINT_ORDER = {
    'vm': ['uuid', 'name-label', 'power-state'],
    'template': ['uuid', 'name-label', 'name-description'],
    'host': ['uuid', 'name-label', 'name-description'],
    'sr': ['uuid', 'name-label', 'name-description', 'host', 'type', 'content-type'],
    'vdi': ['uuid', 'name-label', 'name-description', 'sr-uuid', 'virtual-size', 'sharable', 'read-only'],
    'vbd': ['uuid', 'vm-uuid', 'vm-name-label', 'vdi-uuid', 'empty', 'device'],
    'vif': ['uuid', 'vm-uuid', 'device', 'network-uuid'],
    'network': ['uuid', 'name-label', 'name-description', 'bridge'],
    'pif': ['uuid', 'device', 'MAC', 'currently-attached', 'VLAN', 'network-uuid', 'host-uuid'],
    'pbd': ['uuid', 'host-uuid', 'sr-uuid', 'device-config', 'currently-attached'],
    'pool': ['uuid', 'name-label', 'name-description', 'master', 'default-SR'],
    'task': ['uuid', 'name-label', 'name-description', 'status', 'progress'],
    'host-cpu': ['uuid', 'number', 'vendor', 'speed', 'utilisation'],
    'console': ['uuid', 'vm-uuid', 'vm-name-label', 'protocol', 'location'],
    'sm': ['uuid', 'name-label', 'name-description', 'type', 'vendor', 'copyright', 'configuration'],
    'message': ['uuid', 'name', 'priority', 'class', 'obj-uuid', 'timestamp', 'body'],
    'snapshot': ['uuid', 'name-label', 'name-description', 'is-vmss-snapshot'],
}

# Implicit filters that -list applies before user filters (param, value).
# vm-list hides templates (snapshots are templates too, so they are hidden);
# template-list shows templates that are not snapshots; snapshot-list shows snapshots.
XE_LIST_FILTERS = {'vm': [('is-a-template', 'false')], 'template': [('is-a-template', 'true'), ('is-a-snapshot', 'false')], 'snapshot': [('is-a-snapshot', 'true')]}

# xe class name -> datamodel class, for the classes above.
XE_CLASS_TO_WIRE = {'vm': 'VM', 'host': 'host', 'sr': 'SR', 'vdi': 'VDI', 'vbd': 'VBD', 'vif': 'VIF', 'network': 'network', 'pif': 'PIF', 'pbd': 'PBD', 'pool': 'pool', 'task': 'task', 'host-cpu': 'host_cpu', 'console': 'console', 'sm': 'SM', 'message': 'message', 'template': 'VM', 'snapshot': 'VM'}
