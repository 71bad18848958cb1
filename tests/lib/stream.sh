# shellcheck shell=bash
# Long-running streams (skfp-stream) write "SENT RECEIVED" to a progress file; shared by the
# reliability tests on the host and the system scenarios (bound in at /skfp-lib).
#   stream_received PROGRESS_FILE   the bytes received so far (0 before the first line)
#   stream_moving PROGRESS_FILE     waits until the stream has received more than it had (5 s)

stream_received() {
        cut -d' ' -f2 "$1" 2>/dev/null || echo 0
}

stream_moving() {
        local before _
        before=$(stream_received "$1")
        for _ in $(seq 100); do
                [ "$(stream_received "$1")" -gt "$before" ] && return 0
                sleep 0.05
        done
        echo "     no progress in 5 s (at $before bytes)"
        return 1
}
