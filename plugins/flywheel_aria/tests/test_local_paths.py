"""No local path (POSIX, Windows, UNC, ~, file:) nor home folder reaches any artifact file.

(``flywheel_core.scrub_paths`` itself is tested in the core's tests/test_localpaths.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path


from flywheel_core.testing import local_paths

CANARY = "zzcanary"
PATHS = local_paths(CANARY)
# What would show that a path got through, however it was escaped on the way.
LEAKS = [
    CANARY,
    r"(?<![A-Za-z])[A-Za-z]:\\*[\\/]",  # C:\ D:/ (and C:\\ once Markdown-escaped)
    r"\\\\{2,}\w",  # UNC
    r"\bfile:",
    r"~\\?/",
    r"/(home|Users|root|srv|etc|tmp)\b",
]


def _hostile(text: str) -> str:
    said = " ".join(f"Saved to {p}." for p in PATHS)
    return (
        f"{text} {said}\n\nA [link](/home/{CANARY}/g.html), ![a picture](/Users/{CANARY}/s.png), "
        f"`cd /home/{CANARY}/garden` and <file:///home/{CANARY}/x>.\n\n"
        f"```sh\nls C:\\Users\\{CANARY}\\garden\n```\n"
    )


def _scan(text: str, where: str, extra: list[str]) -> None:
    for pattern in LEAKS + [re.escape(e) for e in extra]:
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            context = text[max(0, match.start() - 60) : match.end() + 60]
            raise AssertionError(f"{where}: {match.group()!r} in ...{context!r}")


def test_no_artifact_file_holds_a_local_path(tmp_path, pics, write_session, flywheel_cli):
    shots = tmp_path / f"{CANARY}-shots"
    shots.mkdir()
    (shots / "night.png").write_bytes(pics.encode(pics.pattern(64, 48, seed=1), "PNG"))
    (shots / "day.png").write_bytes(pics.encode(pics.pattern(64, 48, seed=2), "PNG"))
    config = tmp_path / "flywheel.toml"
    config.write_text(f'media_roots = ["{shots.name}"]\n', encoding="utf-8")
    text = _hostile("Made it.")
    path = write_session(
        agent_id=f"C:\\Users\\{CANARY}",
        title=f"Garden at /home/{CANARY}/g",
        summary=text,
        overview=text,
        problem=text,
        solution=text,
        key_achievements=[text, {"title": f"/home/{CANARY}/t", "description": text}],
        lessons=text,
        next_steps=[text],
        tags=[f"/home/{CANARY}/tag", "ok"],
        source_data={
            "conversations": [
                {
                    "source": f"/home/{CANARY}/who",
                    "title": f"D:\\{CANARY}\\title",
                    "content": text,
                    "timestamp": "2025-12-02T03:00:00Z",
                    "artifacts": [
                        {
                            "type": f"~/{CANARY}/type",
                            "name": f"D:/games/{CANARY}/SpaceExplorer",
                            "path": f"D:/games/{CANARY}/SpaceExplorer",
                            "url": f"file:///home/{CANARY}/x",
                            "technologies": [f"/opt/{CANARY}/tool", "React"],
                        }
                    ],
                },
                {"source": "notes", "content": text, "title": PATHS[4]},
            ],
            "screenshots": [
                {
                    "path": str(shots / "night.png"),
                    "caption": f"From /home/{CANARY}/night.png",
                    "alt": f"C:\\Users\\{CANARY}\\night.png",
                },
                str(shots / "day.png"),
                f"/home/{CANARY}/missing.png",
                f"C:\\Users\\{CANARY}\\a.png",
                f"../../{CANARY}/up.png",
            ],
        },
    )
    result = flywheel_cli("run", "--json", "--config", config, "--out", tmp_path / "out", path)
    assert result.exit_code == 0, result.output
    (data,) = result.json()
    artifacts = data["artifacts"]
    assert set(artifacts) == {"devlog", "social_post"}
    assert len(artifacts["devlog"]["meta"]["images"]) == 2, "accepted from the media root"
    extra = [str(tmp_path), str(Path.home())]
    folder = tmp_path / "out" / "life_aria" / data["session_id"]
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"devlog.md", "social_post.md", "social_post.json"}
    for file in files:
        _scan(file.read_bytes().decode("latin-1"), str(file), extra)
    for kind, record in artifacts.items():
        published = {k: record.get(k) for k in ("title", "summary", "tags", "meta")}
        _scan(json.dumps(published, ensure_ascii=False), kind, extra)
    devlog = (folder / "devlog.md").read_text(encoding="utf-8")
    assert "SpaceExplorer" in devlog and "garden" in devlog, "a path is shown by its last part"
