"""Signing material: the generated chain, writing it safely and loading an operator's."""

import datetime
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from portrait.provenance.signing import (
    KEY_FILENAME,
    ROOT_FILENAME,
    SigningMaterialError,
    create_signing_chain,
    load_signing_material,
    signing_algorithm,
    write_signing_material,
)


def test_leaf_is_a_signing_certificate_c2pa_accepts(material):
    leaf = x509.load_pem_x509_certificate(material.leaf_cert_pem)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"


def test_leaf_names_its_issuer_by_key_identifier(material):
    leaf = x509.load_pem_x509_certificate(material.leaf_cert_pem)
    root = x509.load_pem_x509_certificate(material.root_cert_pem)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_leaf_outlives_decades_of_portraits_and_not_its_root(material):
    leaf = x509.load_pem_x509_certificate(material.leaf_cert_pem)
    root = x509.load_pem_x509_certificate(material.root_cert_pem)
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime > datetime.timedelta(days=365 * 20)
    assert leaf.not_valid_after_utc < root.not_valid_after_utc


def test_certificates_name_only_the_organisation():
    material = create_signing_chain("Example Studio")
    leaf = x509.load_pem_x509_certificate(material.leaf_cert_pem)
    oids = {attribute.oid for attribute in leaf.subject}
    assert oids == {NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME}
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Example Studio"
    )


def test_chain_lists_leaf_then_root(material):
    certs = x509.load_pem_x509_certificates(material.chain_pem)
    assert [c.public_bytes(serialization.Encoding.PEM) for c in certs] == [
        material.leaf_cert_pem,
        material.root_cert_pem,
    ]


def test_written_key_is_private_to_its_owner(tmp_path, material):
    _, key_path = write_signing_material(tmp_path / "keys", material)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes() == material.leaf_key_pem


def test_writing_again_never_overwrites(tmp_path, material):
    chain_path, key_path = write_signing_material(tmp_path, material)
    write_signing_material(tmp_path)  # would create a new chain if it wrote anything
    assert key_path.read_bytes() == material.leaf_key_pem
    assert chain_path.read_bytes() == material.chain_pem


def test_written_material_loads_back_with_its_root(tmp_path, material):
    chain_path, key_path = write_signing_material(tmp_path, material)
    loaded = load_signing_material(chain_path, key_path, tsa_url="http://tsa.example")
    assert loaded.chain_pem == material.chain_pem
    assert loaded.leaf_key_pem == material.leaf_key_pem
    assert loaded.root_cert_pem == material.root_cert_pem
    assert loaded.tsa_url == "http://tsa.example"


def test_operator_chain_without_root_loads_with_no_anchor(tmp_path, material):
    (tmp_path / "chain.pem").write_bytes(material.leaf_cert_pem)
    (tmp_path / "key.pem").write_bytes(material.leaf_key_pem)
    loaded = load_signing_material(tmp_path / "chain.pem", tmp_path / "key.pem")
    assert loaded.root_cert_pem is None
    assert not (tmp_path / ROOT_FILENAME).exists()


def test_loading_refuses_a_key_of_another_certificate(tmp_path, material):
    chain_path, _ = write_signing_material(tmp_path, material)
    other_key = tmp_path / "other.pem"
    other_key.write_bytes(create_signing_chain().leaf_key_pem)
    with pytest.raises(SigningMaterialError, match="does not match"):
        load_signing_material(chain_path, other_key)


def test_loading_missing_files_is_a_clear_error(tmp_path):
    with pytest.raises(SigningMaterialError, match="cannot read"):
        load_signing_material(tmp_path / "chain.pem", tmp_path / KEY_FILENAME)


def test_algorithm_follows_the_key():
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert signing_algorithm(create_signing_chain().leaf_key_pem) == "es256"
    assert signing_algorithm(p384) == "es384"
