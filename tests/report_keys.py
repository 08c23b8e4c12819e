"""The JSON keys issue 4 promises for every signature of a report (`edoc verify --json`)."""

SIGNATURE_KEYS = (
    "field",
    "indication",
    "sub_indication",
    "intact",
    "signer",
    "issuer",
    "signing_time",
    "timestamp_time",
    "level",
    "changes",
    "revocation",
    "summary_vi",
)
