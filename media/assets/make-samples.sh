#!/usr/bin/env bash
# Regenerates the sample media the clients send in calls (committed; this script is only for
# changing them). Needs Debian's ffmpeg. Both loop seamlessly in the sender.
set -euo pipefail
cd "$(dirname "$0")"
# 4 s of a moving test pattern, 320×240 at 15 fps, VP8, one keyframe a second (so a peer that
# joins or loses packets recovers within a second).
ffmpeg -y -loglevel error -f lavfi -i testsrc2=size=320x240:rate=15 -t 4 \
  -c:v libvpx -b:v 250k -g 15 -keyint_min 15 -deadline realtime -cpu-used 8 test-pattern.ivf
# 4 s of a 440 Hz tone, 48 kHz stereo Opus at 32 kb/s, one 20 ms packet per Ogg page.
ffmpeg -y -loglevel error -f lavfi -i sine=frequency=440:sample_rate=48000 -t 4 -ac 2 \
  -c:a libopus -b:a 32k -frame_duration 20 -page_duration 20000 tone.ogg
