// device_security.cpp - a device's DACL: SYSTEM and Administrators only. See the header.
#include "device_security.hpp"

#include "kernel_raii.hpp"

namespace kmd {
namespace {

// A SID with room for two sub-authorities, laid out as the SID structure (which declares one).
struct Sid2 {
    UCHAR revision;
    UCHAR sub_authority_count;
    SID_IDENTIFIER_AUTHORITY authority;
    ULONG sub_authority[2];
};

constinit Sid2 g_local_system = {SID_REVISION, 1, SECURITY_NT_AUTHORITY, {SECURITY_LOCAL_SYSTEM_RID, 0}}; // S-1-5-18
constinit Sid2 g_administrators = {SID_REVISION, 2, SECURITY_NT_AUTHORITY,
                                   {SECURITY_BUILTIN_DOMAIN_RID, DOMAIN_ALIAS_RID_ADMINS}}; // S-1-5-32-544

} // namespace

_Use_decl_annotations_
NTSTATUS restrict_to_system_and_admins(PDEVICE_OBJECT device)
{
    PAGED_CODE();
    PSID system = reinterpret_cast<PSID>(&g_local_system);
    PSID admins = reinterpret_cast<PSID>(&g_administrators);
    const ULONG acl_size = sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) - sizeof(ULONG)) + RtlLengthSid(system) + RtlLengthSid(admins);

    alignas(8) unsigned char acl_storage[sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) + sizeof(Sid2))];
    if (acl_size > sizeof acl_storage) return STATUS_BUFFER_TOO_SMALL;
    auto* acl = reinterpret_cast<PACL>(acl_storage);

    NTSTATUS status = RtlCreateAcl(acl, acl_size, ACL_REVISION);
    if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, system);
    if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, admins);
    SECURITY_DESCRIPTOR descriptor;
    if (NT_SUCCESS(status)) status = RtlCreateSecurityDescriptor(&descriptor, SECURITY_DESCRIPTOR_REVISION);
    if (NT_SUCCESS(status)) status = RtlSetDaclSecurityDescriptor(&descriptor, TRUE, acl, FALSE);
    // "P" in the SDDL: the DACL is protected, so no ACE is ever inherited into it from a parent.
    if (NT_SUCCESS(status)) descriptor.Control |= SE_DACL_PROTECTED;
    if (!NT_SUCCESS(status)) return status;

    KernelHandle handle;
    // The object type makes the object manager check that `device` really is a device object.
    status = ObOpenObjectByPointer(device, OBJ_KERNEL_HANDLE, nullptr, WRITE_DAC, IoDeviceObjectType, KernelMode, handle.out());
    if (!NT_SUCCESS(status)) return status;
    return ZwSetSecurityObject(handle.get(), DACL_SECURITY_INFORMATION, &descriptor);
}

} // namespace kmd
