"""Schemathesis hooks: pin the {fund} path parameter to the fund the run set up, so that
positive cases reach the handlers instead of all answering 404 for an unknown fund."""
import os

import schemathesis

FUND = os.environ["PTT_CONTRACT_FUND"]


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    if path_parameters is not None and "fund" in path_parameters:
        path_parameters["fund"] = FUND
    return path_parameters
