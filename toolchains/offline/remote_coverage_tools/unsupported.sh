#!/bin/sh
echo "error: coverage is not available: remote_coverage_tools is the offline stand-in from coex's toolchains/offline" >&2
exit 1
