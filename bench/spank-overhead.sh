#!/bin/sh
echo "spank-overhead: not written yet" >&2; exit 77
