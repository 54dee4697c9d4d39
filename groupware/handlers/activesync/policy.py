"""The device policy (MS-ASPROV 2.2.2.54 EASProvisionDoc) from ``[activesync]``.

The policy's hash identifies its version: a device that accepted another version is
told to fetch it again (Status 143 PolicyRefresh).
"""

from __future__ import annotations

import hashlib

from groupware.config.sections import ActiveSyncConfig


def _b(value: bool) -> str:
    return "1" if value else "0"


def policy_document(cfg: ActiveSyncConfig) -> list[tuple[str, str]]:
    """EASProvisionDoc children in schema order (name, value)."""
    inactivity = str(cfg.policy_max_inactivity_lock) if cfg.policy_max_inactivity_lock else ""
    failures = str(cfg.policy_max_password_failed_attempts) \
        if cfg.policy_max_password_failed_attempts else ""
    expiration = str(cfg.policy_password_expiration_days) \
        if cfg.policy_password_expiration_days else ""
    return [
        ("DevicePasswordEnabled", _b(cfg.policy_device_password_enabled)),
        ("AlphanumericDevicePasswordRequired", _b(cfg.policy_alphanumeric_password_required)),
        ("PasswordRecoveryEnabled", "0"),
        ("RequireStorageCardEncryption", _b(cfg.policy_require_device_encryption)),
        ("AttachmentsEnabled", _b(cfg.policy_attachments_enabled)),
        ("MinDevicePasswordLength", str(cfg.policy_min_password_length)),
        ("MaxInactivityTimeDeviceLock", inactivity),
        ("MaxDevicePasswordFailedAttempts", failures),
        ("MaxAttachmentSize", str(cfg.policy_max_attachment_size)
         if cfg.policy_max_attachment_size else ""),
        ("AllowSimpleDevicePassword", _b(cfg.policy_allow_simple_password)),
        ("DevicePasswordExpiration", expiration),
        ("DevicePasswordHistory", str(cfg.policy_password_history)),
        ("AllowStorageCard", "1"),
        ("AllowCamera", _b(cfg.policy_allow_camera)),
        ("RequireDeviceEncryption", _b(cfg.policy_require_device_encryption)),
        ("AllowUnsignedApplications", "1"),
        ("AllowUnsignedInstallationPackages", "1"),
        ("MinDevicePasswordComplexCharacters", "1"),
        ("AllowWiFi", "1"),
        ("AllowTextMessaging", "1"),
        ("AllowPOPIMAPEmail", "1"),
        ("AllowBluetooth", "2"),
        ("AllowIrDA", "1"),
        ("RequireManualSyncWhenRoaming", "0"),
        ("AllowDesktopSync", "1"),
        ("MaxCalendarAgeFilter", "0"),
        ("AllowHTMLEmail", "1"),
        ("MaxEmailAgeFilter", "0"),
        ("MaxEmailBodyTruncationSize", "-1"),
        ("MaxEmailHTMLBodyTruncationSize", "-1"),
        ("RequireSignedSMIMEMessages", "0"),
        ("RequireEncryptedSMIMEMessages", "0"),
        ("RequireSignedSMIMEAlgorithm", "0"),
        ("RequireEncryptionSMIMEAlgorithm", "0"),
        ("AllowSMIMEEncryptionAlgorithmNegotiation", "2"),
        ("AllowSMIMESoftCerts", "1"),
        ("AllowBrowser", "1"),
        ("AllowConsumerEmail", "1"),
        ("AllowRemoteDesktop", "1"),
        ("AllowInternetSharing", "1"),
    ]


def policy_hash(cfg: ActiveSyncConfig) -> str:
    text = "\n".join(f"{k}={v}" for k, v in policy_document(cfg))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
