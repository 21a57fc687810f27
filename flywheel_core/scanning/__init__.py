"""Finding secrets and personal data before anything is published (placeholder docstring)."""
from flywheel_core.scanning.model import Finding, ScanContext, fingerprint, mask, rule_slug
from flywheel_core.scanning.scanner import redact_text, scan_session, scan_text
