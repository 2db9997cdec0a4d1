#!/usr/bin/perl
# Submit at a fixed rate for a while and count, per second of the run,
# the answers ESME_ROK and ESME_RTHROTTLED. Prints one line per second:
# "SECOND OK THROTTLED". For throttle tests (live rate changes).
#
#   rate_client.pl HOST PORT SYSTEM_ID PASSWORD RATE SECONDS
use strict;
use warnings;
use Net::SMPP;
use IO::Select;
use Time::HiRes qw(time sleep);
$| = 1;
my ($host, $port, $id, $pw, $rate, $secs) = @ARGV;
die "usage: $0 HOST PORT ID PW RATE SECONDS\n" unless $secs;
$SIG{ALRM} = sub { die "timeout\n" };
alarm $secs + 30;
my $smpp = Net::SMPP->new_transmitter($host, port => $port, system_id => $id,
    password => $pw, smpp_version => 0x34, async => 1) or die "connect\n";
my $resp = $smpp->read_pdu() or die "no bind_resp\n";
die "bind refused\n" if $resp->{status};
my $sel = IO::Select->new($smpp);
my (%ok, %thr, %sent_at);
my ($sent, $answered) = (0, 0);
my $start = time;
print STDERR "started\n"; # second 0 begins now: tests time their changes from here
my $total = int($rate * $secs);
while ($answered < $total) {
    my $now = time;
    while ($sent < $total && $sent < ($now - $start) * $rate) {
        my $seq = $smpp->submit_sm(destination_addr => '34600000001', short_message => 'r');
        $sent_at{$seq} = $now - $start;
        $sent++;
    }
    next unless $sel->can_read(0.001);
    my $pdu = $smpp->read_pdu() or die "connection lost\n";
    next unless $pdu->{cmd} == 0x80000004;
    my $second = int($sent_at{$pdu->{seq}} // 0);
    if ($pdu->{status} == 0) { $ok{$second}++ } elsif ($pdu->{status} == 0x58) { $thr{$second}++ }
    $answered++;
}
printf "%d %d %d\n", $_, $ok{$_} // 0, $thr{$_} // 0 for 0 .. $secs - 1;
$smpp->unbind();
