"""``manage.py init_signing``, the self-hosted chain ``sitter_setup`` creates with the same code,
and an operator's own certificate, key and timestamp authority taken from the settings."""

import http.server
import io
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from PIL import Image

from portrait.provenance import (
    ProvenanceConfig,
    SigningError,
    apply_provenance,
    create_signing_chain,
)
from portrait.provenance_config import provenance_config
from portrait.services import styles
from portrait.signing import ensure_signing_material, signing_material
from portrait.verification import verify_output
from tests.conftest import face_bytes


def init_signing(*args):
    out = io.StringIO()
    call_command("init_signing", *map(str, args), stdout=out)
    return out.getvalue()


def certificates(folder):
    chain = x509.load_pem_x509_certificates((folder / "c2pa-chain.pem").read_bytes())
    root = x509.load_pem_x509_certificate((folder / "c2pa-root.pem").read_bytes())
    return chain[0], root


@pytest.fixture
def self_hosted(settings, tmp_path):
    """The self-hosted chain's settings, pointing at an empty folder of this test's."""
    folder = tmp_path / "c2pa"
    settings.SITTER_SIGNING_DIR = folder
    settings.SITTER_SIGNING_CERT = str(folder / "c2pa-chain.pem")
    settings.SITTER_SIGNING_KEY = str(folder / "c2pa-signing-key.pem")
    return folder


@pytest.fixture
def operator_chain(settings, tmp_path, self_hosted):
    """An operator's own chain and key, in files and under names of their choosing."""
    material = create_signing_chain("Operator Studio")
    (tmp_path / "operator-chain.pem").write_bytes(material.chain_pem)
    (tmp_path / "operator-key.pem").write_bytes(material.leaf_key_pem)
    settings.SITTER_SIGNING_CERT = str(tmp_path / "operator-chain.pem")
    settings.SITTER_SIGNING_KEY = str(tmp_path / "operator-key.pem")
    return material


def portrait():
    return Image.open(io.BytesIO(face_bytes("obama_2.jpg"))).convert("RGB").resize((384, 384))


def sign_as_this_site(style="business"):
    """What the render job does to each output, with this site's provenance settings."""
    return apply_provenance(
        portrait(),
        render_id=0x5177,
        style=style,
        base_model="tiny",
        config=provenance_config(styles()[style]),
    )


def test_creates_a_root_ca_and_an_es256_signing_certificate(tmp_path):
    init_signing("--dir", tmp_path, "--org", "Example Studio")
    leaf, root = certificates(tmp_path)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.EMAIL_PROTECTION
    ]
    leaf.verify_directly_issued_by(root)
    organisation = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert organisation == "Example Studio"


def test_the_key_is_readable_by_its_owner_only(tmp_path):
    init_signing("--dir", tmp_path)
    assert (tmp_path / "c2pa-signing-key.pem").stat().st_mode & 0o777 == 0o600


def test_says_where_it_wrote_and_what_to_give_verifiers(tmp_path):
    out = init_signing("--dir", tmp_path)
    assert f"certificate chain: {tmp_path / 'c2pa-chain.pem'}" in out
    assert str(tmp_path / "c2pa-signing-key.pem") in out
    assert f"trust anchor:      {tmp_path / 'c2pa-root.pem'} (give this file to verifiers)" in out


def test_never_overwrites_a_chain(tmp_path):
    init_signing("--dir", tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    out = init_signing("--dir", tmp_path, "--org", "Someone Else")
    assert "nothing was written" in out
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_writes_the_chain_this_site_signs_with_by_default(self_hosted):
    init_signing()
    leaf, _root = certificates(self_hosted)
    assert x509.load_pem_x509_certificate(signing_material().leaf_cert_pem) == leaf


def test_an_empty_organisation_is_refused(tmp_path):
    with pytest.raises(CommandError, match="--org"):
        init_signing("--dir", tmp_path, "--org", " ")
    assert not any(tmp_path.iterdir())


def test_sitter_setup_creates_the_same_chain(self_hosted, db, tiny_model):
    out = io.StringIO()
    call_command("sitter_setup", stdout=out)
    leaf, root = certificates(self_hosted)
    leaf.verify_directly_issued_by(root)
    assert str(self_hosted / "c2pa-root.pem") in out.getvalue()


def test_an_operators_own_chain_signs_outputs_that_verify_as_trusted(
    operator_chain, self_hosted, db
):
    assert ensure_signing_material() is None
    assert not self_hosted.exists()  # no self-hosted chain is made beside an operator's
    signed = sign_as_this_site()
    answer = verify_output(signed.data, include_render=False)
    assert answer["c2pa"]["state"] == "Trusted"
    assert answer["made_here"] is True


def test_an_image_signed_by_another_chain_is_valid_but_not_made_here(db, signing):
    stranger = create_signing_chain("Another Studio")
    signed = apply_provenance(
        portrait(),
        render_id=0x5177,
        style="business",
        base_model="tiny",
        config=ProvenanceConfig(material=stranger),
    )
    answer = verify_output(signed.data, include_render=False)
    assert answer["c2pa"]["state"] == "Valid"
    assert answer["made_here"] is False


class TimestampAuthority(http.server.BaseHTTPRequestHandler):
    """Records the timestamp requests it gets and answers none of them."""

    requests = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append((self.path, self.headers["Content-Type"]))
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def timestamp_authority():
    server = http.server.HTTPServer(("127.0.0.1", 0), TimestampAuthority)
    TimestampAuthority.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/tsa", TimestampAuthority.requests
    server.shutdown()
    server.server_close()


def test_the_operators_timestamp_authority_countersigns(
    settings, operator_chain, timestamp_authority
):
    url, requests = timestamp_authority
    settings.SITTER_TSA_URL = url
    # An authority that does not answer fails the signature: no output goes out unstamped.
    with pytest.raises(SigningError):
        sign_as_this_site()
    assert requests == [("/tsa", "application/timestamp-query")]


def test_a_key_that_does_not_match_the_certificate_names_the_setting(
    settings, operator_chain, tmp_path
):
    other = create_signing_chain()
    (tmp_path / "other-key.pem").write_bytes(other.leaf_key_pem)
    settings.SITTER_SIGNING_KEY = str(tmp_path / "other-key.pem")
    with pytest.raises(ImproperlyConfigured, match="SITTER_SIGNING_KEY"):
        signing_material()
