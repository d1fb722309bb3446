"""The AWS deployment: a CDK app of seven stacks built from one construct per component.

`app.build_app(config)` assembles it, `app.synth(config, out)` writes the templates offline
(no AWS credentials), `bundle.build_lambda_bundle()` packages the Lambda code for python3.12
on ARM64 without Docker. Nothing outside `cli/` imports this package.
"""
