#!/bin/sh
# /sbin/understudy-service start|stop|status: the service of the
# understudy-busybox image. Normally busybox httpd on port 80 serving
# /var/www. With SLOW=1 (the instance's environment.SLOW, which init records
# in /run/understudy-slow for later `exec`s) it is the "slow application"
# of restore mode instead: a shell loop that warms up for 2 s and then
# answers each GET on port 80 with a counter held only in its memory (the
# first answer is 1, each GET the next number) and the time its warm-up
# ended, so a CRIU restore that kept the state answers where it stopped and
# a cold start answers 1 (slow_app below).
export PATH=/bin:/sbin
[ -n "$SLOW" ] || SLOW=$(cat /run/understudy-slow 2>/dev/null)
PIDFILE=/run/understudy-slow.pid
FIFO=/run/understudy-slow.fifo # slow_app hands slow_answer its answers

# slow_running succeeds when the slow application's loop is alive.
slow_running() {
	[ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# now_ms prints the time in milliseconds since the epoch (busybox date has
# no %N; adjtimex reads the clock without setting it). Its "time.tv_usec"
# holds nanoseconds when the clock's status has STA_NANO (8192), which a
# kernel sets once an NTP daemon has asked for it: reading those as
# microseconds put the time up to 16 minutes ahead.
now_ms() {
	set -- $(adjtimex 2>/dev/null | awk '/status:/ {st = $2} /time.tv_sec/ {s = $2} /time.tv_usec/ {u = $2} END {print st, s, u}')
	if [ $(($1 & 8192)) -ne 0 ]; then
		echo $(($2 * 1000 + $3 / 1000000))
	else
		echo $(($2 * 1000 + $3 / 1000)) # awk's %d is 32 bits here, the shell's arithmetic 64
	fi
}

# slow_app is the slow application itself (run in its own session, which
# holds its listener too). Each answer to a GET is "COUNT WARMED": COUNT
# starts at 1 and each GET takes the next; WARMED is when its warm-up ended
# (ms since the epoch). Both are held only in this shell's memory, so an
# answer tells a restored process (warmed before the activation began, at
# the checkpoint) from a cold-started one. A persistent listener (nc -ll)
# runs slow_answer per connection, which takes the next answer from this
# loop through a FIFO and acknowledges it through another; a bare TCP
# connect (the agent's port check) takes none.
slow_app() {
	sleep 2 # the warm-up
	warmed=$(now_ms)
	rm -f "$FIFO" "$FIFO.ack" && mkfifo -m 0666 "$FIFO" "$FIFO.ack" # criu reopens them before the uid map: 0600 failed
	# Both FIFOs held open read-write, so no open ever blocks: the next
	# answer waits in the FIFO's buffer, and this loop waits in a read of
	# the acknowledgement (where a checkpoint finds it; CRIU keeps both).
	exec 3<>"$FIFO" 4<>"$FIFO.ack"
	nc -ll -p 80 -e /sbin/understudy-service slow-answer </dev/null >/dev/null 2>&1 &
	i=1
	while :; do
		echo "$i $warmed" >&3
		read -r _ <&4
		i=$((i + 1))
	done
}

# slow_answer serves one connection (stdin and stdout) of slow_app.
slow_answer() {
	cr=$(printf '\r')
	read -r line || exit 0
	case "$line" in GET\ *) ;; *) exit 0 ;; esac
	while read -r h; do # the headers, up to the empty line
		case "$h" in "" | "$cr") break ;; esac
	done
	read -r body <"$FIFO" # waits while another connection holds the answer
	echo ok >"$FIFO.ack"
	printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' \
		$((${#body} + 1)) "$body"
}

case "$1" in
start)
	if [ "$SLOW" = 1 ]; then
		slow_running && exit 0
		setsid /sbin/understudy-service slow-app </dev/null >/dev/null 2>&1 &
		echo $! >"$PIDFILE"
		exit 0
	fi
	pidof httpd >/dev/null || httpd -p 80 -h /var/www
	;;
slow-app)
	slow_app
	;;
slow-answer)
	slow_answer
	;;
stop)
	if [ "$SLOW" = 1 ]; then
		# The loop leads its own session: its group holds it and its nc.
		slow_running && kill -TERM "-$(cat "$PIDFILE")" 2>/dev/null
		rm -f "$PIDFILE"
		exit 0
	fi
	# killall fails when one of httpd's per-connection children ends
	# between its listing and its kill, although the service is stopped:
	# stopped means no httpd is left, which is what the status says.
	killall httpd 2>/dev/null
	! pidof httpd >/dev/null || killall -9 httpd 2>/dev/null
	! pidof httpd >/dev/null
	;;
status)
	if { [ "$SLOW" = 1 ] && slow_running; } || { [ "$SLOW" != 1 ] && pidof httpd >/dev/null; }; then
		echo running
	else
		echo stopped
		exit 1
	fi
	;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
