"""Certificate material for signing C2PA manifests.

A self-hosted Sitter creates its own two-level chain: a root CA that readers can be given as a
trust anchor, and an ES256 (ECDSA P-256) leaf that signs. Operators who have a certificate from
a CA that C2PA readers already trust supply that chain and key instead, and may name an RFC 3161
timestamp authority.

The leaf carries exactly what c2pa-rs checks for a signing credential: not a CA, keyUsage
digitalSignature, an Authority Key Identifier and an extended key usage the default trust
configuration accepts (emailProtection).
"""

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Without a timestamp authority a manifest is only valid while its leaf certificate is, so a
# self-hosted chain (which has no TSA by default) must outlive every portrait it signs. The root
# lives a little longer than the leaf so that the leaf never outlives its issuer.
ROOT_VALIDITY = datetime.timedelta(days=365 * 30)
LEAF_VALIDITY = datetime.timedelta(days=365 * 25)
# A clock skew between hosts must not make a fresh certificate "not yet valid".
BACKDATE = datetime.timedelta(hours=1)

CHAIN_FILENAME = "c2pa-chain.pem"
KEY_FILENAME = "c2pa-signing-key.pem"
ROOT_FILENAME = "c2pa-root.pem"


class SigningMaterialError(Exception):
    """Signing material is missing, unreadable or does not match."""


@dataclass(frozen=True)
class SigningMaterial:
    """PEM-encoded certificates and key used to sign C2PA manifests.

    ``chain_pem`` is what goes into the manifest (leaf first, then its issuers);
    ``root_cert_pem`` is the trust anchor to hand to verifiers (``None`` when an operator
    supplied a chain whose root is already trusted elsewhere).
    """

    root_cert_pem: bytes | None
    leaf_cert_pem: bytes
    leaf_key_pem: bytes
    chain_pem: bytes
    tsa_url: str | None = None


def _name(org_name: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def create_signing_chain(org_name: str = "Sitter self-hosted") -> SigningMaterial:
    """Create a new root CA and an ES256 signing leaf issued by it.

    The names carry only the organisation, never a person: they are copied into every manifest.
    """
    now = datetime.datetime.now(datetime.UTC) - BACKDATE
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(org_name, f"{org_name} C2PA root")
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(org_name, f"{org_name} content credentials"))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )

    leaf_pem = _pem(leaf)
    root_pem = _pem(root)
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The root's private key is dropped here on purpose: nothing else is ever issued, so no
    # copy of it exists to be stolen.
    return SigningMaterial(
        root_cert_pem=root_pem,
        leaf_cert_pem=leaf_pem,
        leaf_key_pem=key_pem,
        chain_pem=leaf_pem + root_pem,
    )


_CURVE_ALGORITHMS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


def signing_algorithm(key_pem: bytes) -> str:
    """The C2PA signature algorithm for a PEM private key: es256/384/512, ps256 or ed25519."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningMaterialError(f"signing key is not an unencrypted PEM key: {exc}") from exc
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVE_ALGORITHMS:
        return _CURVE_ALGORITHMS[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"  # C2PA allows RSA only with PSS padding
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise SigningMaterialError(f"unsupported signing key type: {type(key).__name__}")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL makes "never overwrite" atomic, and the mode applies from the first byte on.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_signing_material(
    directory: str | os.PathLike, material: SigningMaterial | None = None
) -> tuple[Path, Path]:
    """Write a signing chain into ``directory`` unless one is already there.

    Creates a new chain when ``material`` is None. Existing files are never overwritten (a
    replaced key would orphan the trust anchor that verifiers were given); when any of the files
    already exists nothing is written. The key file is created with mode 0600.

    Returns the paths of the certificate chain and of the key.
    """
    directory = Path(directory)
    chain_path = directory / CHAIN_FILENAME
    key_path = directory / KEY_FILENAME
    root_path = directory / ROOT_FILENAME
    if any(p.exists() for p in (chain_path, key_path, root_path)):
        return chain_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    material = material or create_signing_chain()
    _write_new(key_path, material.leaf_key_pem, 0o600)
    _write_new(chain_path, material.chain_pem, 0o644)
    if material.root_cert_pem is not None:
        _write_new(root_path, material.root_cert_pem, 0o644)
    return chain_path, key_path


def _split_pem_certificates(chain_pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise SigningMaterialError(f"certificate chain is not PEM: {exc}") from exc
    if not certs:
        raise SigningMaterialError("certificate chain holds no certificate")
    return certs


def load_signing_material(
    cert_chain_path: str | os.PathLike,
    key_path: str | os.PathLike,
    tsa_url: str | None = None,
) -> SigningMaterial:
    """Load an operator's (or a generated) chain and key from PEM files.

    The chain file lists the leaf first, then its issuers. When its last certificate is
    self-signed it is reported as the root (the trust anchor to give verifiers); a ``c2pa-root.pem``
    beside the chain is used otherwise. Raises :class:`SigningMaterialError` when the files are
    missing, not PEM, or the key does not belong to the leaf.
    """
    try:
        chain_pem = Path(cert_chain_path).read_bytes()
        key_pem = Path(key_path).read_bytes()
    except OSError as exc:
        raise SigningMaterialError(f"cannot read signing material: {exc}") from exc
    certs = _split_pem_certificates(chain_pem)
    signing_algorithm(key_pem)  # refuses a key type C2PA cannot sign with
    key = serialization.load_pem_private_key(key_pem, password=None)
    leaf = certs[0]
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise SigningMaterialError("the signing key does not match the first certificate")

    root_pem: bytes | None = None
    last = certs[-1]
    if len(certs) > 1 and last.issuer == last.subject:
        root_pem = _pem(last)
    else:
        sibling = Path(cert_chain_path).with_name(ROOT_FILENAME)
        if sibling.exists():
            root_pem = sibling.read_bytes()
    return SigningMaterial(
        root_cert_pem=root_pem,
        leaf_cert_pem=_pem(leaf),
        leaf_key_pem=key_pem,
        chain_pem=chain_pem,
        tsa_url=tsa_url or None,
    )
