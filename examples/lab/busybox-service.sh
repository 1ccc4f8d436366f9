#!/bin/sh
# /sbin/understudy-service start|stop|status: the service of the
# understudy-busybox image (busybox httpd on port 80 serving /var/www).
export PATH=/bin:/sbin
case "$1" in
start)
	pidof httpd >/dev/null || httpd -p 80 -h /var/www
	;;
stop)
	# killall fails when one of httpd's per-connection children ends
	# between its listing and its kill, although the service is stopped:
	# stopped means no httpd is left, which is what the status says.
	killall httpd 2>/dev/null
	! pidof httpd >/dev/null || killall -9 httpd 2>/dev/null
	! pidof httpd >/dev/null
	;;
status)
	if pidof httpd >/dev/null; then
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
