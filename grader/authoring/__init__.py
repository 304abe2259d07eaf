"""What instructors' tests import: checks that fail with a message a student
understands (checks), pictures for feedback (pictures), moving a trained model between workers
(handoff) and checking that graded outputs come from its weights (weights_dependence), and the
trusted side's readers of data sets and trial logs (datasets, trial_log, built on the student
package). Runs inside the trusted pytest process, called by assignment tests and by
the plugin; may import core and the student package.
"""
