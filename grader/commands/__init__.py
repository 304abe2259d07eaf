"""The verbs the CLI calls, one module per verb, each a keyword-only function that returns a result
object, plus the notebook's check cell (notebook_check); and the verbs' command-line declarations
(verb.py; grading_verbs, assignment_verbs, review_verbs: each verb's arguments declared once, beside
the handler that receives them and renders the result), which grader/cli.py turns into the parser.
May import every room; nothing but the CLI (grader/cli.py), the notebook cell and other commands
imports a command module.
"""
