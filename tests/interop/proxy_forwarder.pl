#!/usr/bin/perl
# proxy_forwarder.pl - a TCP load balancer in miniature for the tests: it
# accepts connections on a loopback port and relays each to the bridge,
# first sending a PROXY protocol header (version 1 or 2) that names
# --source as the client, as HAProxy's send-proxy / send-proxy-v2 do.
#
#   proxy_forwarder.pl --to PORT --port-file FILE [--version 1|2]
#                      [--source IP:PORT] [--garbage]
#
# --garbage sends a malformed header instead. Runs until killed.
use strict;
use warnings;
use Getopt::Long;
use IO::Select;
use IO::Socket::INET;
use Socket qw(inet_aton);

my %opt = (version => 1, source => '203.0.113.7:5555');
GetOptions(\%opt, 'to=i', 'port-file=s', 'version=i', 'source=s', 'garbage')
    && $opt{to} && $opt{'port-file'} or die "usage: see the header\n";
my ($src_ip, $src_port) = split /:/, $opt{source};

my $listen = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1:0',
                                   ReuseAddr => 1) or die "listen: $!\n";
open my $pf, '>', "$opt{'port-file'}.tmp" or die;
print $pf $listen->sockport, "\n";
close $pf;
rename "$opt{'port-file'}.tmp", $opt{'port-file'};

sub header {
    my ($dst_port) = @_;
    return "PROXY TCP9 nonsense\r\n" if $opt{garbage};
    return "PROXY TCP4 $src_ip 127.0.0.1 $src_port $dst_port\r\n"
        if $opt{version} == 1;
    my $addrs = inet_aton($src_ip) . inet_aton('127.0.0.1') . pack('nn', $src_port, $dst_port);
    return "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', 0x21, 0x11, length $addrs) . $addrs;
}

my $sel = IO::Select->new($listen);
my %peer;   # fileno -> the other socket
while (1) {
    for my $s ($sel->can_read(1)) {
        if ($s == $listen) {
            my $c = $listen->accept or next;
            my $b = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$opt{to}") or do { close $c; next };
            syswrite $b, header($opt{to});
            $peer{fileno $c} = $b;
            $peer{fileno $b} = $c;
            $sel->add($c, $b);
            next;
        }
        next unless defined fileno $s;    # closed with its partner just now
        my $other = $peer{fileno $s} or next;
        my $n = sysread $s, my $buf, 65536;
        if (!$n) {
            $sel->remove($s, $other);
            delete @peer{fileno $s, fileno $other};
            close $s;
            close $other;
            next;
        }
        for (my $off = 0; $off < $n;) {
            my $w = syswrite $other, $buf, $n - $off, $off;
            last unless defined $w;
            $off += $w;
        }
    }
}
