"""Grading a class (`d2l-tutor grade-class`): reading the submissions (tutor.classroom.submissions), grading each
(student, exercise) in strict mode (tutor.classroom.run) and writing the reports from the result records
(tutor.classroom.report). Reading and reporting are pure (no torch, no grading)."""
