#!/bin/sh
# Builds samples/traffic-clip.mp4, the short clip the README's main command runs detection on:
# 3 s of people (one-by-one-person-detection.mp4, 127.0-130.0 s) followed by 2.5 s of cars seen from
# above (car-detection.mp4, 25.3-27.8 s), both Intel IoT DevKit sample videos (CC BY 4.0, see
# samples/ATTRIBUTION.md). Both cuts lie in the last 20% of their videos, which the default model
# never saw in training. 768x432, 10 fps, H.264 (libx264, CRF 30), no audio.
set -eu
shared=${1:-"$(dirname "$0")/../../../shared"}
out=${2:-"$(dirname "$0")/../../samples/traffic-clip.mp4"}
ffmpeg -loglevel error -y \
  -ss 127.0 -t 3.0 -i "$shared/data/video/one-by-one-person-detection.mp4" \
  -ss 25.3 -t 2.5 -i "$shared/data/video/car-detection.mp4" \
  -filter_complex "[0:v]fps=10,scale=768:432,setsar=1[a];[1:v]fps=10,scale=768:432,setsar=1[b];[a][b]concat=n=2:v=1:a=0[v]" \
  -map "[v]" -c:v libx264 -preset slow -crf 30 -pix_fmt yuv420p -an -map_metadata -1 -fflags +bitexact "$out"
echo "$out: $(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$out") frames, $(stat -c %s "$out") bytes"
