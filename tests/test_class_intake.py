"""Grading a class, the intake (issue 10): a folder of student folders, a zip of one and a Gradescope export all give
the same (student, exercise) -> file map; every odd input becomes a note, never an exception, and a hostile zip
never writes outside the work folder."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from tutor.classroom.submissions import (NOTE_CODES, ClassError, MARKER, Note, file_hash, name_problem, note_text,
                                         parse_gradescope_metadata, read_class, student_id)

CORR2D = b"def corr2d(X, K):\n    return X\n"
GRU = b"def gru(inputs, state, params):\n    return inputs, state\n"


def make_tree(root: Path, files: dict[str, bytes | None]) -> Path:
    """Files (bytes) and folders (None) under root."""
    for name, data in files.items():
        path = root / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return root


def make_zip(path: Path, entries) -> Path:
    """A zip of (name or ZipInfo, bytes) entries, in order."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def codes(cls, student="*") -> list[str]:
    return [n.code for n in cls.notes if student == "*" or n.student == student]


def everything_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


# -- the three layouts --------------------------------------------------------------------------------------------


def test_a_folder_of_student_folders_maps_each_student_to_their_files(tmp_path, course):
    root = make_tree(tmp_path / "class", {"alice/corr2d.py": CORR2D, "alice/gru.py": GRU, "bob/corr2d.py": CORR2D,
                                          "Zoë Li/gru.py": GRU, "王 小明/corr2d.py": CORR2D})
    cls = read_class(root, tmp_path / "work", course)
    assert cls.kind == "folder"
    assert list(cls.students) == ["alice", "bob", "Zoë Li", "王 小明"]   # sorted, spaces and unicode kept
    assert cls.exercises == ["corr2d", "gru"]                             # what anyone submitted, course order
    assert cls.students["alice"] == {"corr2d": root / "alice" / "corr2d.py", "gru": root / "alice" / "gru.py"}
    assert cls.students["Zoë Li"] == {"gru": root / "Zoë Li" / "gru.py"}
    assert cls.notes == []
    assert list(cls.pairs())[:3] == [("alice", "corr2d", root / "alice" / "corr2d.py"),
                                     ("alice", "gru", root / "alice" / "gru.py"),
                                     ("bob", "corr2d", root / "bob" / "corr2d.py")]
    assert ("bob", "gru", None) in list(cls.pairs())
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())  # a folder is read in place


def test_the_output_folder_inside_the_submissions_is_not_a_student(tmp_path, course):
    root = make_tree(tmp_path / "class", {"alice/corr2d.py": CORR2D, "report/feedback/x.md": b"",
                                          "report/.work/corr2d.py": CORR2D, "work/corr2d.py": CORR2D})
    cls = read_class(root, root / "work", course, exclude=[root / "report"])
    assert list(cls.students) == ["alice"]


def test_the_exercises_asked_for_are_the_ones_graded_and_an_unknown_one_is_a_clear_error(tmp_path, course):
    root = make_tree(tmp_path / "class", {"alice/corr2d.py": CORR2D, "alice/gru.py": GRU})
    cls = read_class(root, tmp_path / "work", course, exercises=["gru", "dropout", "gru.py"])
    assert cls.exercises == ["gru", "dropout"]
    assert cls.students["alice"] == {"gru": root / "alice" / "gru.py"}
    with pytest.raises(ClassError) as info:
        read_class(root, tmp_path / "work", course, exercises=["corr2d", "corr3d"])
    message = str(info.value)
    assert "corr3d" in message and "\n" not in message
    assert all(ex.id in message for ex in course.exercises)   # names the valid ids


@pytest.mark.parametrize("top", ["", "class-2026/"], ids=["no top folder", "one top folder"])
def test_a_zip_of_the_class_reads_like_the_folder(tmp_path, course, top):
    archive = make_zip(tmp_path / "class.zip", [(f"{top}alice/corr2d.py", CORR2D), (f"{top}bob/gru.py", GRU),
                                                (f"{top}bob/", b""), ("__MACOSX/._alice", b"junk")])
    work = tmp_path / "work"
    cls = read_class(archive, work, course)
    assert cls.kind == "zip"
    assert list(cls.students) == ["alice", "bob"]
    assert cls.exercises == ["corr2d", "gru"]
    assert cls.students["alice"]["corr2d"].read_bytes() == CORR2D
    assert work / "submissions" in cls.students["alice"]["corr2d"].parents   # unpacked under workdir
    assert cls.notes == []
    again = read_class(archive, work, course)                                  # a second run (--resume) replaces it
    assert again.students == cls.students


def test_a_zip_of_a_single_student_folder_is_that_student(tmp_path, course):
    archive = make_zip(tmp_path / "one.zip", [("alice/corr2d.py", CORR2D)])
    cls = read_class(archive, tmp_path / "work", course)
    assert list(cls.students) == ["alice"]


def gradescope_metadata() -> str:
    """The layout of a real export's submission_metadata.yml (Ruby symbol keys, results, history), shortened."""
    return """---
submission_101:
  :submitters:
  - :name: Alice Example
    :sid: '0675001'
    :email: alice@example.edu
  - :name: Bob Example
    :sid: '0675002'
    :email: bob@example.edu
  :created_at: 2026-03-02 02:52:07.938335000 Z
  :score: 0.0
  :status: processed
  :results:
    score: 0.0
    tests: []
    output: "a message over
      two lines: with :submitters: inside"
    extra_data: 
    leaderboard: []
  :history:
  - :submitters: []
    :created_at: 2026-03-01 07:30:05.262325000 Z
    :score: 0.0
    :id: 100
submission_102:
  :submitters:
  - :name: 王小明
    :sid: '0675003'
    :email: 
  :created_at: 2026-03-02 04:04:59.089605000 Z
  :score: 0.0
  :status: processed
  :history: []
submission_103:
  :submitters:
  - :name: Carol Example
    :email: carol@example.edu
  :created_at: 2026-03-01 01:00:00.000000000 Z
  :history: []
submission_104:
  :submitters:
  - :name: Carol Example
    :email: carol@example.edu
  :created_at: 2026-03-03 01:00:00.000000000 Z
  :history: []
submission_105:
  :submitters:
  - :name: Dan Example
    :email: dan@example.edu
  :history: []
"""


def gradescope_entries(top: str) -> list:
    return [(f"{top}submission_metadata.yml", gradescope_metadata().encode()),
            (f"{top}submission_101/corr2d.py", CORR2D), (f"{top}submission_101/gru.py", GRU),
            (f"{top}submission_102/corr2d.py", CORR2D), (f"{top}submission_102/README.md", b"hello"),
            (f"{top}submission_103/corr2d.py", b"# older\n"), (f"{top}submission_104/corr2d.py", b"# newer\n"),
            (f"{top}submission_999/corr2d.py", CORR2D)]


@pytest.mark.parametrize("top", ["assignment_7315_export/", ""], ids=["export folder", "flat"])
def test_a_gradescope_export_maps_each_submitter_to_the_submission_files(tmp_path, course, top):
    archive = make_zip(tmp_path / "export.zip", gradescope_entries(top))
    cls = read_class(archive, tmp_path / "work", course)
    assert cls.kind == "gradescope"
    # the id is the email, else the sid (王小明 has no email), ...
    assert set(cls.students) == {"alice@example.edu", "bob@example.edu", "0675003", "carol@example.edu",
                                 "dan@example.edu"}
    alice, bob = cls.students["alice@example.edu"], cls.students["bob@example.edu"]
    assert alice == bob and set(alice) == {"corr2d", "gru"}             # a group: both get the group's files
    assert alice["corr2d"].read_bytes() == CORR2D and alice["corr2d"].parent.name == "submission_101"
    assert cls.people["0675003"] == {"name": "王小明", "email": "", "sid": "0675003", "submission": "submission_102"}
    assert cls.students["carol@example.edu"]["corr2d"].read_bytes() == b"# newer\n"   # the latest submission
    assert cls.students["dan@example.edu"] == {}
    by_code = {(n.student, n.code): n for n in cls.notes}
    assert ("carol@example.edu", "duplicate_student") in by_code
    assert ("dan@example.edu", "gradescope_no_folder") in by_code
    assert ("dan@example.edu", "nothing_submitted") in by_code
    assert ("0675003", "not_exercises") in by_code and by_code[("0675003", "not_exercises")].detail == "README.md"
    assert (None, "gradescope_unlisted") in by_code and by_code[(None, "gradescope_unlisted")].detail == \
        "submission_999"


def test_an_extracted_gradescope_export_reads_like_its_zip(tmp_path, course):
    root = make_tree(tmp_path / "export", {name: data for name, data in gradescope_entries("")})
    cls = read_class(root, tmp_path / "work", course)
    assert cls.kind == "gradescope"
    assert cls.students["alice@example.edu"]["gru"] == root / "submission_101" / "gru.py"


def test_the_metadata_reader_takes_quotes_block_scalars_and_nested_lists():
    text = ("submission_1:\n  :submitters:\n    - :name: \"Jos\\u00e9 O'Neil\"\n      :email: 'it''s@x.edu'\n"
            "      :sid: 42 # a comment\n  :results:\n    output: |\n      submission_2:\n        :submitters:\n"
            "  :created_at: 2026-01-01\nsubmission_3:\n  :submitters: []\n")
    meta = parse_gradescope_metadata(text)
    assert list(meta) == ["submission_1", "submission_3"]
    assert meta["submission_1"]["submitters"] == [{"name": "José O'Neil", "email": "it's@x.edu", "sid": "42"}]
    assert meta["submission_1"]["created_at"] == "2026-01-01"
    assert meta["submission_3"]["submitters"] == []
    assert student_id({"name": "Ann", "email": "", "sid": ""}, "submission_1") == "Ann"
    assert student_id({"name": "a/b", "email": "bad\x00", "sid": None}, "submission_1") == "submission_1"


# -- odd content: a note, never an exception ---------------------------------------------------------------------


def test_odd_files_and_folders_are_noted_and_the_rest_is_graded(tmp_path, course):
    root = make_tree(tmp_path / "class", {
        "alice/corr2d.py": CORR2D,
        "bob/corr2d.py": b"",                          # empty: graded (0 points), noted
        "carol/corr2d.py/inner.py": CORR2D,            # a folder named like the file: missing, noted
        "dave/notes.txt": b"hi", "dave/data/": None,   # nothing to grade: noted; the others listed once
        "erin/Corr2d (1).py": CORR2D,                  # a near miss: says which name it should have
        "frank/corr2d.py": CORR2D, "frank/helper.py": b"x = 1\n", "frank/.DS_Store": b"junk",
        "roster.csv": b"name\n",                       # not in a student's folder
    })
    (root / "bad\nname").mkdir()                       # a control character: refused
    (root / "bad\nname" / "corr2d.py").write_bytes(CORR2D)
    os.symlink(root / "alice" / "corr2d.py", root / "gina")          # a student folder that is a link: refused
    (root / "hank").mkdir()
    os.symlink(root / "alice" / "corr2d.py", root / "hank" / "corr2d.py")   # a file that is a link: missing
    cls = read_class(root, tmp_path / "work", course)
    assert list(cls.students) == ["alice", "bob", "carol", "dave", "erin", "frank", "hank"]
    assert cls.students["bob"] == {"corr2d": root / "bob" / "corr2d.py"}
    assert cls.students["carol"] == {} and cls.students["hank"] == {} and cls.students["erin"] == {}
    notes = {(n.student, n.exercise, n.code): n for n in cls.notes}
    assert ("bob", "corr2d", "empty_file") in notes
    assert ("carol", "corr2d", "not_a_file") in notes
    assert ("hank", "corr2d", "symlink") in notes
    assert notes[("dave", None, "not_exercises")].detail == "data/, notes.txt"
    assert ("dave", None, "nothing_submitted") in notes
    assert notes[("erin", "corr2d", "near_miss")].detail == "Corr2d (1).py"
    assert notes[("frank", None, "not_exercises")].detail == "helper.py"   # one note, junk files not listed
    assert notes[(None, None, "stray_files")].detail == "roster.csv"
    refused = [n.detail for n in cls.notes if n.code == "bad_name"]
    assert any("bad\\nname" in d and "control" in d for d in refused)
    assert any(d.startswith("gina") for d in refused)
    assert "alice" not in codes(cls, "alice") and codes(cls, "alice") == []
    for note in cls.notes + [Note("x", "corr2d", code, "detail") for code in NOTE_CODES]:
        text = note_text(note)                         # every note reads as one line, from its own template
        assert text and "\n" not in text and "{" not in text and not text.startswith(note.code)


@pytest.mark.parametrize("name, ok", [("alice", True), ("Zoë Li", True), ("王 小明", True), ("a.b@x.edu", True),
                                      ("..", False), (".", False), ("", False), ("a/b", False), ("a\\b", False),
                                      ("a\x00b", False), ("a\nb", False), ("x" * 256, False),
                                      ("\udcff", False)])
def test_which_names_are_refused(name, ok):
    assert (name_problem(name) is None) == ok


def test_a_student_with_none_of_the_exercises_scores_nothing_and_is_noted(tmp_path, course):
    root = make_tree(tmp_path / "class", {"alice/corr2d.py": CORR2D, "bob/essay.md": b"..."})
    cls = read_class(root, tmp_path / "work", course)
    assert cls.students["bob"] == {}
    assert [n.code for n in cls.notes_for("bob")] == ["not_exercises", "nothing_submitted"]


def test_an_empty_class_a_missing_source_and_a_file_that_is_not_a_zip_are_clear_errors(tmp_path, course):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    for source, says in [(tmp_path / "empty", "no student folders"), (tmp_path / "nope", "does not exist"),
                         (tmp_path / "notes.txt", "not a zip")]:
        with pytest.raises(ClassError, match=says):
            read_class(source, tmp_path / "work", course)


# -- hostile zips -------------------------------------------------------------------------------------------------


def test_zip_slip_entries_are_skipped_and_nothing_lands_outside_workdir(tmp_path, course):
    archive = make_zip(tmp_path / "evil.zip", [("alice/corr2d.py", CORR2D), ("../evil.py", b"x"),
                                                ("alice/../../evil2.py", b"x"), ("/tmp/evil3.py", b"x"),
                                                ("C:/evil4.py", b"x"), ("bob\\..\\..\\evil5.py", b"x")])
    work = tmp_path / "deep" / "work"
    before = everything_under(tmp_path)
    cls = read_class(archive, work, course)
    created = everything_under(tmp_path) - before - {work, work.parent}
    assert created and all(work in p.parents for p in created)
    assert not any(p.name.startswith("evil") for p in created)
    assert not Path("/tmp/evil3.py").exists()
    assert list(cls.students) == ["alice"]
    unsafe = [n.detail for n in cls.notes if n.code == "zip_unsafe_path"]
    assert len(unsafe) == 5 and any("absolute" in d for d in unsafe) and any("'..'" in d for d in unsafe)


def test_a_symlink_in_a_zip_is_never_created_nor_followed(tmp_path, course):
    link = zipfile.ZipInfo("alice/corr2d.py")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(tmp_path / "link.zip", [(link, b"/etc/passwd"), ("bob/corr2d.py", CORR2D)])
    cls = read_class(archive, tmp_path / "work", course)
    assert not any(p.is_symlink() for p in everything_under(tmp_path / "work"))
    assert cls.students["alice"] == {} and cls.students["bob"] == {"corr2d": cls.root / "bob" / "corr2d.py"}
    assert [n.detail for n in cls.notes if n.code == "zip_symlink"] == ["alice/corr2d.py"]
    assert [n.code for n in cls.notes_for("alice")] == ["nothing_submitted"]


def test_a_zip_bomb_is_refused_with_a_clear_error_before_anything_is_written(tmp_path, course):
    archive = make_zip(tmp_path / "bomb.zip", [("alice/corr2d.py", CORR2D), ("alice/data.bin", bytes(4 << 20))])
    assert archive.stat().st_size < 100_000
    with pytest.raises(ClassError, match="would unpack to 4 MB, more than the 1 MB allowed") as info:
        read_class(archive, tmp_path / "work", course, max_bytes=1 << 20)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "work" / "submissions").exists()
    assert [p.name for p in (tmp_path / "work").iterdir()] == []      # no half-unpacked folder either


def test_a_zip_with_too_many_files_is_refused(tmp_path, course):
    archive = make_zip(tmp_path / "many.zip", [(f"s{i}/corr2d.py", CORR2D) for i in range(20)])
    with pytest.raises(ClassError, match="20 entries"):
        read_class(archive, tmp_path / "work", course, max_files=10)
    assert len(read_class(archive, tmp_path / "work", course, max_files=20).students) == 20


def patch_bytes(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new))


def test_a_zip_that_lies_about_its_sizes_writes_no_more_than_it_declares(tmp_path, course):
    archive = make_zip(tmp_path / "liar.zip", [("alice/corr2d.py", CORR2D), ("alice/big.bin", bytes(4 << 20))])
    data = bytearray(archive.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):     # local header, central directory
        at = -1
        while (at := data.find(sig, at + 1)) >= 0:
            if struct.unpack_from("<I", data, at + offset)[0] == 4 << 20:
                struct.pack_into("<I", data, at + offset, 10)
    archive.write_bytes(bytes(data))
    cls = read_class(archive, tmp_path / "work", course, max_bytes=1 << 20)
    written = sum(p.stat().st_size for p in everything_under(tmp_path / "work") if p.is_file())
    assert written < 1 << 20
    assert cls.students["alice"]["corr2d"].read_bytes() == CORR2D
    assert any(n.code == "unreadable" and "big.bin" in n.detail for n in cls.notes)


def test_a_nul_in_a_zip_entry_name_is_refused(tmp_path, course):
    archive = make_zip(tmp_path / "nul.zip", [("alice/corr2d.py", CORR2D), ("bob/corr2dX.py", CORR2D)])
    patch_bytes(archive, b"bob/corr2dX.py", b"bob/corr2d\x00.py")
    cls = read_class(archive, tmp_path / "work", course)
    assert any(n.code == "bad_name" and "NUL" in n.detail for n in cls.notes)
    assert "bob" not in cls.students or cls.students["bob"] == {}


def test_an_existing_folder_that_is_not_ours_is_never_replaced(tmp_path, course):
    archive = make_zip(tmp_path / "class.zip", [("alice/corr2d.py", CORR2D)])
    mine = make_tree(tmp_path / "work" / "submissions", {"precious.txt": b"keep me"})
    with pytest.raises(ClassError, match="not made by d2l-tutor"):
        read_class(archive, tmp_path / "work", course)
    assert (mine / "precious.txt").read_bytes() == b"keep me"
    (mine / "precious.txt").unlink()
    (mine / MARKER).write_text("")
    assert list(read_class(archive, tmp_path / "work", course).students) == ["alice"]


def test_a_utf8_name_without_the_utf8_flag_is_read_as_utf8(tmp_path, course):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("X" * len("王小明".encode()) + "/corr2d.py", CORR2D)
    data = buffer.getvalue().replace(b"X" * len("王小明".encode()), "王小明".encode())
    (tmp_path / "cn.zip").write_bytes(data)
    assert list(read_class(tmp_path / "cn.zip", tmp_path / "work", course).students) == ["王小明"]


def test_file_hash_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "corr2d.py"
    path.write_bytes(CORR2D * 100_000)
    assert file_hash(path) == hashlib.sha256(CORR2D * 100_000).hexdigest()
    assert isinstance(Note("a", None, "empty_file", "x"), tuple)
