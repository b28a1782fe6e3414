"""The instructor's grader: ``python -m fcn_lessons.grade SUBMISSIONS --out GRADEBOOK.csv``.

From a folder of submissions (``SUBMISSIONS/<student>/<NN_slug>.ipynb``) to a gradebook
CSV, a feedback page per student and notebook, and a summary. For each submission the
grader builds the graded notebook (the lesson's reference exercise notebook with the
student's exercise cells put in by exercise number: :mod:`.assemble`), runs it with nbval
in a sandbox under limits (:mod:`.sandbox`), reads each check cell's outcome from pytest's
report (:mod:`._plugin`), and writes the row (:mod:`.gradebook`, :mod:`.feedback`).
Checks draw hidden cases: the grader sets ``FCN_LESSONS_CHECK_SEED``.

The instructor's guide, with the threat model, is docs/GRADING.md.
"""

DOC_USAGE = """\
Grade a class's filled exercise notebooks into a gradebook.

  python -m fcn_lessons.grade SUBMISSIONS --out GRADEBOOK.csv [--feedback DIR] [--jobs N]
                              [--timeout SECONDS] [--force] [--shard K/N --seed S]
  python -m fcn_lessons.grade merge A.csv B.csv ... --out ALL.csv

SUBMISSIONS holds one folder per student, each with that student's notebooks under their
lesson file names (SUBMISSIONS/alice/00_setup_and_task.ipynb). Only the students'
exercise cells are graded; the check cells come from solutions/ and draw hidden cases.
A second run re-grades only changed submissions. See docs/GRADING.md.
"""

__all__ = ["DOC_USAGE"]
