#!/usr/bin/perl
# Bind COUNT times (default 1) from the local address LOCAL_IP with
# Net::SMPP, one connection each, and print one line per bind:
# "0xNNNNNNNN MS", the bind_resp command_status and the milliseconds from
# the bind_transceiver written to its answer read ("closed MS" when the
# server closed without answering). A bind that succeeds is unbound.
#
#   bind_timed.pl HOST PORT SYSTEM_ID PASSWORD LOCAL_IP [COUNT]
use strict;
use warnings;
use Net::SMPP;
use Time::HiRes qw(time);
$| = 1;
my ($host, $port, $id, $pw, $local, $count) = @ARGV;
die "usage: $0 HOST PORT SYSTEM_ID PASSWORD LOCAL_IP [COUNT]\n" unless defined $local;
$count //= 1;
$SIG{ALRM} = sub { print "timeout\n"; exit 1 };
alarm 30 + 15 * $count;
for (1 .. $count) {
    my $smpp = Net::SMPP->new_connect($host, port => $port, local_ip => $local,
                                      smpp_version => 0x34)
        or die "cannot connect from $local: $!\n";
    my $t0 = time;
    my $resp = $smpp->bind_transceiver(system_id => $id, password => $pw);
    my $ms = int((time - $t0) * 1000 + 0.5);
    if (!$resp) {
        print "closed $ms\n";
        next;
    }
    printf "0x%08x %d\n", $resp->{status}, $ms;
    $smpp->unbind() if $resp->{status} == 0;
    close $smpp;
}
exit 0;
