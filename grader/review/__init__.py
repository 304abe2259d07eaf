"""The review web app (`dlgrade review OUT`): the instructor's browser over one grading folder, to read
every submission beside the machine's verdict and record the decisions a person makes (adjusted
points, manual rubric items, comments, integrity verdicts) in the gradebook.

Who runs it: the instructor's command process, bound to 127.0.0.1 (grader.review.server).
May import: core, intake (reading a submission as grading read it), records (the gradebook and its
decisions) and reports (the integrity comparison, the wording shared with the feedback pages).
"""
