#!/bin/sh
# Rebuilds the console's vendored front-end assets from the npm lock file
# (go generate ./internal/console). The pages themselves (static/*.html,
# app.js, app.css) are hand-written and need no build step.
set -eu
cd "$(dirname "$0")"
npm ci --prefix web --no-audit --no-fund
mkdir -p static/vendor
cp web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css static/vendor/
cp web/node_modules/uplot/LICENSE static/vendor/uPlot.LICENSE
