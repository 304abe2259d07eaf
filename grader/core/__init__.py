"""The shared vocabulary: failures and whose fault they are (errors), the assignment spec
(spec), where assignments live (assignments), and what grading one submission produces (results).
Imports nothing of the engine, so every other room may import it. Runs in every trusted process
(the CLI, the batch, the pytest run); never in the sandboxed worker, which does not mount it.
"""
