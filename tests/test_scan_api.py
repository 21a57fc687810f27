"""The scanner's API: sessions and their exemptions, positions, allow-list, files and images."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel_core.errors import InputError
from flywheel_core.scanning import (
    Finding,
    ScanContext,
    Unredactable,
    add_to_allowlist,
    allowlist_entry,
    load_allowlist,
    redact_files,
    redact_text,
    scan_files,
    scan_session,
    scan_text,
)
from flywheel_core.scanning.media import read_metadata, strip_metadata
from flywheel_core.testing import build_session
from scan_fakes import Fakes, expand, load

FAKE = Fakes("api-tests")
TOKEN = "ghp_" + FAKE.chars("alnum", 36)
EMAIL = "ana.lima.dev@gmail.com"


def _session(*commits: dict, **fields) -> dict:
    return build_session("build", source_data={"git_commits": list(commits), **fields})


def test_a_hash_the_session_declares_is_never_a_finding() -> None:
    declared = FAKE.chars("lowhex", 40)
    other = FAKE.chars("lowhex", 40)
    doc = _session(
        {"hash": declared, "message": "first"},
        {"hash": "1" * 40, "message": f"token: {declared}\nsecret: {declared[:10]}\ntoken: {other}"},
    )
    findings = scan_session(doc)
    assert [(f.rule, f.line) for f in findings] == [("Secret keyword", 3)]
    assert findings[0].file == "$.source_data.git_commits[1].message"


def test_authors_and_repo_path_are_exempt_from_personal_rules_not_from_secret_rules() -> None:
    doc = _session(
        {"hash": "a" * 40, "author": "Ana Lima", "email": EMAIL, "message": f"thanks {EMAIL}"},
        {"hash": "b" * 40, "author": TOKEN, "email": "bob@corp-mail.net",
         "message": "moved /home/ana/src/app and wrote to carla.m@proton.me"},
        repo_path="/home/ana/src/app",
    )
    found = {(f.file, f.rule) for f in scan_session(doc)}
    assert found == {
        ("$.source_data.git_commits[1].author", "GitHub Token"),
        ("$.source_data.git_commits[1].message", "Home folder"),
        ("$.source_data.git_commits[1].message", "E-mail address"),
    }


def test_context_exempt_paths_spare_personal_data_only() -> None:
    doc = build_session("life_aria", title=f"call me at +44 20 7946 0958, token {TOKEN}")
    assert {f.rule for f in scan_session(doc)} == {"Phone number", "GitHub Token"}
    ctx = ScanContext(exempt_paths=["$.title"])
    assert {f.rule for f in scan_session(doc, context=ctx)} == {"GitHub Token"}


def test_flywheel_records_are_not_scanned_but_keys_are() -> None:
    doc = build_session("build")
    doc["artifacts"] = {"blog_post": {"path": "/home/ana/out/blog_post.md"}}
    doc["notes"] = {TOKEN: {"by": EMAIL}}
    findings = scan_session(doc)
    masked = f"$.notes[<key: ghp_{'*' * 24}{TOKEN[-2:]}>]"
    assert [(f.file, f.rule) for f in findings] == [(masked, "GitHub Token"), (masked + ".by", "E-mail address")]
    assert TOKEN not in json.dumps([f.to_dict() for f in findings])


def test_positions_count_the_text_as_stored_not_its_unescaped_view() -> None:
    from flywheel_core.render import md_escape

    text = "# Notes\n\n" + md_escape(f"*done* (see [x]) then {TOKEN}") + "\n"
    [finding] = scan_text(text, name="blog_post.md")
    assert (finding.line, finding.column) == (3, text.splitlines()[2].index("ghp") + 1)
    assert text[finding.start:finding.end].replace("\\", "") == TOKEN
    assert redact_text(text, [finding]).splitlines()[2].endswith("then [redacted:github-token]")


def test_the_same_value_has_the_same_fingerprint_in_any_container() -> None:
    from flywheel_core.render import md_escape

    plain = scan_text(f"x {TOKEN}")[0]
    markdown = scan_text(md_escape(f"x {TOKEN}"), name="a.md")[0]
    in_json = scan_text(json.dumps({"k": f"x {TOKEN}"}), name="a.json")[0]
    assert plain.fingerprint == markdown.fingerprint == in_json.fingerprint
    assert TOKEN not in plain.fingerprint and TOKEN not in json.dumps(plain.to_dict())


def test_offsets_stay_aligned_after_characters_that_lower_into_two() -> None:
    text = "İstanbul İzmir " + TOKEN
    [finding] = scan_text(text)
    assert text[finding.start:finding.end] == TOKEN


def test_finding_round_trips_and_describes_itself() -> None:
    [finding] = scan_text(f"line one\n  {TOKEN}", name="social_post.md")
    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))) == finding
    assert finding.describe() == f"social_post.md:2:3: GitHub Token ghp_{'*' * 24}{TOKEN[-2:]}"


def test_rules_can_be_chosen() -> None:
    text = f"{TOKEN} {EMAIL} DB_PASSWORD=Zq9xT4mwLp"
    assert {f.rule for f in scan_text(text)} == {"GitHub Token", "E-mail address", "Env assignment"}
    assert {f.rule for f in scan_text(text, context=ScanContext(rules={"E-mail address"}))} == {"E-mail address"}
    assert {f.rule for f in scan_text(text, context=ScanContext(rules={"Env assignment"}))} == {"Env assignment"}


def test_local_paths_of_this_machine_are_found_anywhere() -> None:
    ctx = ScanContext(local_paths=["/srv/build/acme-app"])
    found = scan_text("built in /srv/build/acme-app/dist; not /srv/build/acme-application", context=ctx)
    assert [(f.rule, f.column) for f in found] == [("Absolute path", 10)]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("notes on \\\\fileserver\\team\\plan.docx", "Absolute path"),
        ("notes on \\\\?\\UNC\\fileserver\\team\\plan.docx", "Absolute path"),
        ("notes on \\\\?\\unc\\nas01\\share\\x", "Absolute path"),
        ("saved in \\\\?\\D:\\projects\\acme", "Absolute path"),
        ("saved in \\\\?\\C:\\Users\\alice\\x", "Home folder"),
    ],
)
def test_unc_and_long_path_forms_are_found(text: str, rule: str) -> None:
    # Regression: \\?\UNC\server\share and \\?\C:\... (Win32's long-path forms) were not found.
    assert [f.rule for f in scan_text(text, kind="plain")] == [rule]


# --- allow-list ----------------------------------------------------------------------------


def test_allowlist_lets_a_known_false_positive_pass_by_rule_and_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / ".flywheel-allow.json"
    text = "support: help@acme-widgets.com, sales: sales@acme-widgets.com"
    findings = scan_text(text)
    assert len(findings) == 2
    assert add_to_allowlist(path, findings[:1], note="our public support address") == 1
    assert add_to_allowlist(path, findings[:1]) == 0  # already there
    doc = json.loads(path.read_text())
    assert doc["allow"][0] == allowlist_entry(findings[0], "our public support address")
    assert "help@" not in path.read_text()
    remaining = scan_text(text, context=ScanContext(allow=load_allowlist(path)))
    assert [f.preview for f in remaining] == [findings[1].preview]


def test_allowlist_keeps_unknown_fields_and_a_missing_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "allow.json"
    assert load_allowlist(path) == frozenset()
    path.write_text(json.dumps({"version": 1, "owner": "ops", "allow": []}))
    add_to_allowlist(path, scan_text(TOKEN))
    assert json.loads(path.read_text())["owner"] == "ops"


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ([], "$: expected an object"),
        ({"version": 2, "allow": []}, "$.version: unknown version"),
        ({"allow": {"rule": "x"}}, "$.allow: expected a list"),
        ({"allow": [{"rule": "GitHub Token"}]}, "$.allow[0].fingerprint: expected a non-empty string"),
        ({"allow": [{"rule": "GitHub Token", "fingerprint": "abc"}]}, "$.allow[0].fingerprint: expected 64"),
    ],
)
def test_a_malformed_allowlist_is_one_line_naming_file_and_path(tmp_path: Path, doc, where: str) -> None:
    path = tmp_path / "allow.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_allowlist(path)
    assert str(err.value).startswith(f"{path}: {where}") and err.value.exit_code == 2


# --- files and images ----------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(*chunks: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + b"".join(chunks)
            + _chunk(b"IDAT", zlib.compress(b"\x00\x80")) + _chunk(b"IEND", b""))


def _exif(gps: bool) -> bytes:
    # A little-endian TIFF header, IFD0 with Make (ASCII) and, optionally, a GPS IFD pointer.
    make = b"SecretCam\x00"
    entries = [(0x010F, 2, len(make), 8 + 2 + 12 * 2 + 4)]
    if gps:
        entries.append((0x8825, 4, 1, 60))
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    ifd += b"\x00" * (12 * (2 - len(entries))) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + make


def test_png_text_chunks_are_scanned_and_stripped_on_redaction() -> None:
    png = _png(
        _chunk(b"tEXt", b"Software\x00matplotlib 3.8, https://matplotlib.org"),
        _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(f"by {EMAIL}".encode())),
        _chunk(b"iTXt", b"Description\x00\x00\x00en\x00\x00" + f"key {TOKEN}".encode()),
    )
    findings = scan_files({"chart.png": png})
    assert {(f.file, f.rule) for f in findings} == {
        ("chart.png#zTXt:Comment", "E-mail address"),
        ("chart.png#iTXt:Description", "GitHub Token"),
    }
    clean = redact_files({"chart.png": png}, findings)["chart.png"]
    assert read_metadata(clean) == [] and scan_files({"chart.png": clean}) == []
    assert clean.startswith(b"\x89PNG") and clean.endswith(_chunk(b"IEND", b""))


@pytest.mark.parametrize("gps", [True, False])
def test_exif_left_in_an_image_is_a_finding(gps: bool) -> None:
    png = _png(_chunk(b"eXIf", _exif(gps)))
    [finding] = scan_files({"shot.png": png})
    assert finding.rule == ("Image location" if gps else "Image metadata")
    assert finding.file == "shot.png#EXIF"
    assert read_metadata(strip_metadata(png)) == []


def test_a_real_jpeg_with_gps_exif_xmp_and_comment_is_found_and_cleaned() -> None:
    image_module = pytest.importorskip("PIL.Image")
    import io

    exif = image_module.Exif()
    exif[0x010F] = "SecretCamMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    picture = image_module.new("RGB", (16, 16), (200, 30, 40))
    buf = io.BytesIO()
    xmp = f'<x:xmpmeta><dc:creator>{EMAIL}</dc:creator><p>C:\\Users\\ana\\shots</p></x:xmpmeta>'
    picture.save(buf, "JPEG", exif=exif, comment=b"taken on build01.corp", xmp=xmp.encode())
    data = buf.getvalue()
    rules = {(f.file, f.rule) for f in scan_files({"a.jpg": data})}
    assert rules == {("a.jpg#EXIF", "Image location"), ("a.jpg#XMP", "E-mail address"),
                     ("a.jpg#XMP", "Home folder"), ("a.jpg#COM", "Internal host name")}
    clean = redact_files({"a.jpg": data}, scan_files({"a.jpg": data}))["a.jpg"]
    assert scan_files({"a.jpg": clean}) == []
    with image_module.open(io.BytesIO(clean)) as reopened:
        assert reopened.size == (16, 16) and dict(reopened.getexif()) == {}
        assert "comment" not in reopened.info and "xmp" not in reopened.info


def test_gif_comment_and_webp_xmp_are_scanned_and_stripped() -> None:
    gif = (b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
           + b"\x21\xfe" + bytes([len(EMAIL)]) + EMAIL.encode() + b"\x00"
           + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00" + b"\x3b")
    xmp = f"<x:xmpmeta>{TOKEN}</x:xmpmeta>".encode()
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x04, 0, 0, 0]) + b"\x00" * 6
    body = vp8x + b"XMP " + struct.pack("<I", len(xmp)) + xmp + (b"\x00" if len(xmp) % 2 else b"")
    webp = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    findings = scan_files({"a.gif": gif, "b.webp": webp})
    assert {(f.file, f.rule) for f in findings} == {("a.gif#COM", "E-mail address"), ("b.webp#XMP", "GitHub Token")}
    clean = redact_files({"a.gif": gif, "b.webp": webp}, findings)
    assert scan_files(clean) == []
    assert clean["a.gif"].endswith(b"\x3b") and EMAIL.encode() not in clean["a.gif"]
    assert struct.unpack("<I", clean["b.webp"][4:8])[0] == len(clean["b.webp"]) - 8
    assert clean["b.webp"][20] & 0x04 == 0  # the VP8X header no longer announces XMP


def test_redact_files_keeps_json_valid_and_leaves_clean_files_alone() -> None:
    files = {
        "metrics.json": json.dumps({"note": f"key {TOKEN}", "n": 3}, indent=2).encode(),
        "blog_post.md": f"# Post\n\nmail {EMAIL}\n".encode(),
        "chart.svg": b"<svg><title>fine</title></svg>",
    }
    findings = scan_files(files)
    out = redact_files(files, findings)
    assert json.loads(out["metrics.json"])["note"] == "key [redacted:github-token]"
    assert out["blog_post.md"] == b"# Post\n\nmail [redacted:e-mail-address]\n"
    assert out["chart.svg"] is files["chart.svg"]


def test_a_binary_that_is_not_an_image_cannot_be_redacted() -> None:
    blob = b"\x00\x01\xff" + f"config token={TOKEN}".encode() + b"\xfe\x00"
    findings = scan_files({"bundle.bin": blob})
    assert [(f.file, f.rule) for f in findings] == [("bundle.bin#strings", "GitHub Token")]
    with pytest.raises(Unredactable, match="bundle.bin: binary file with findings"):
        redact_files({"bundle.bin": blob}, findings)


# --- redaction as a property ---------------------------------------------------------------

_SECRET_TEXTS = [expand(c)[0] for c in load("secrets.json")]
_LOOKALIKE_TEXTS = [expand(c)[0] for c in load("lookalikes.json")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_SECRET_TEXTS + _LOOKALIKE_TEXTS)
                | st.text(alphabet=" \n\t.,:;=\"'()/#*_-[]!", max_size=3), min_size=1, max_size=8))
def test_after_redaction_nothing_is_found_and_no_secret_is_left(parts: list[str]) -> None:
    text = " ".join(parts)
    findings = scan_text(text)
    redacted = redact_text(text, findings)
    assert scan_text(redacted) == []
    for f in findings:
        assert text[f.start:f.end] not in redacted or len(text[f.start:f.end]) < 8


def test_every_rule_is_documented() -> None:
    from flywheel_core.scanning import RULE_NAMES

    docs = (Path(__file__).resolve().parents[1] / "docs" / "secrets.md").read_text(encoding="utf-8")
    missing = [rule for rule in sorted(RULE_NAMES) if f"\n| {rule} |" not in docs]
    assert missing == []


def test_a_redaction_marker_is_not_found_again() -> None:
    # Found by the property test: "[redacted:aws-access-key]" holds the keyword "access-key".
    text = 'aws_access_key_id = "ASIA' + FAKE.chars("UPPER", 16) + '" : aws_access_key_id = "x"'
    redacted = redact_text(text, scan_text(text))
    assert redacted.startswith('aws_access_key_id = "[redacted:aws-access-key]"')
    assert scan_text(redacted) == []


@pytest.mark.parametrize("first,second", [("PRIVATE KEY", "OPENSSH PRIVATE KEY"),
                                          ("PGP PRIVATE KEY BLOCK", "EC PRIVATE KEY"),
                                          ("RSA PRIVATE KEY", "PRIVATE KEY")])
def test_every_private_key_of_a_text_is_found_whatever_their_order(first: str, second: str) -> None:
    # Found by the property test: detect-secrets yields its matches regex by regex, and a key
    # whose regex came later in its list hid every key before it in the text.
    keys = [FAKE.pem(first), FAKE.pem(second)]
    text = f"deploy key:\n{keys[0]}\nand the other one\n{keys[1]}\n"
    found = scan_text(text)
    assert [text[f.start:f.end] for f in found] == keys
    assert scan_text(redact_text(text, found)) == []


def test_a_key_block_without_its_end_line_stops_before_the_next_key() -> None:
    cut = FAKE.pem("RSA PRIVATE KEY").rsplit("\n", 2)[0]  # the END line (and the last body line) lost
    other = FAKE.pem("EC PRIVATE KEY")
    text = f"{cut}\n\nprose between them\n{other}"
    first, second = scan_text(text)
    assert text[first.start:first.end].startswith(cut) and first.end < text.index("between")
    assert text[second.start:second.end] == other
    assert "between them\n[redacted:private-key]" in redact_text(text, [first, second])


def test_a_redaction_marker_is_no_keyword_for_what_follows_it() -> None:
    # Found by the property test: "[redacted:sk-api-key]" reads as the key "api-key", and the
    # sha256 sum after it as its value.
    fake = Fakes("marker")
    text = f"DEEPSEEK_API_KEY=sk-{fake.chars('alnum', 32)}  = {fake.chars('lowhex', 64)}  dist/x.tar.gz"
    found = scan_text(text)
    assert [f.rule for f in found] == ["sk- API Key"]
    assert scan_text(redact_text(text, found)) == []


def test_a_value_starting_with_a_marker_is_not_found_again() -> None:
    # Found publishing a devlog redacted: a gallery image whose alt text was an .env line.
    secret = Fakes("marker-link").chars("b64", 40)
    text = f"[![AWS\\_SECRET\\_ACCESS\\_KEY={secret}](media/a_thumb.png)](media/a.png)\n"
    found = scan_text(text, name="devlog.md")
    redacted = redact_text(text, found)
    assert redacted == "[![AWS\\_SECRET\\_ACCESS\\_KEY=[redacted:aws-access-key]](media/a_thumb.png)](media/a.png)\n"
    assert scan_text(redacted, name="devlog.md") == []


def test_a_token_in_an_id_field_is_not_declared_away() -> None:
    doc = _session({"hash": "c" * 40, "id": TOKEN, "message": f"see {TOKEN}"})
    assert [f.file for f in scan_session(doc)] == ["$.source_data.git_commits[0].id",
                                                   "$.source_data.git_commits[0].message"]


@pytest.mark.parametrize("joiner", ["\u2060", "\u200b", "\\u2060", "\\u200B"])
def test_invisible_characters_and_their_escapes_are_read_past(joiner: str) -> None:
    # The social posts put a word joiner in every address (so networks do not link it), and a
    # traced repr or a log line writes it as an escape: https://user:password@host was not found.
    password = "Zq9x" + "Kt4mWp2vLr8s"
    text = f"then merged https:{joiner}//deploy:{password}@{joiner}git.{joiner}example.net/app."
    findings = scan_text(text, kind="plain")
    assert [f.rule for f in findings] == ["Basic Auth Credentials"]
    assert password not in redact_text(text, findings)
