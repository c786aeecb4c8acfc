"""The offline rehearsal of the POC workflow (issue #4).

The synthesized stack is deployed into moto, its state machine runs in moto's Step Functions
interpreter, its Lambda asset runs in-process, Personalize is the stateful double
(tests/support/personalize_double.py), and Wait states and retry intervals take simulated time only.

    make rehearse                        # or: python -m tests.rehearsal [--env dev] [--quiet] [--json F]

    from tests.rehearsal.harness import Rehearsal
    with Rehearsal(assembly_dir, "dev", durations={...}) as rehearsal:
        rehearsal.upload_sample_data()
        run = rehearsal.run()            # Run: status, error, cause, history (simulated timestamps), makespan
        rehearsal.double                 # the Personalize double: fault injection, resources(), calls
        rehearsal.sns_messages(), rehearsal.parameters("/ppoc-dev/poc"), rehearsal.read_json(key)

Modules: cfn (assembly + intrinsics), deploy (template -> moto), lambda_seam (moto Lambda -> handler
in-process), simclock (simulated time in the interpreter), iam (every caller under its synthesized
role, key policies; on by default), harness (the above together), trace (progress trace, critical path,
summary), runner (the command line).
"""
