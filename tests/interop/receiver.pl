#!/usr/bin/perl
# A customer's receiver bind with Net::SMPP that answers every deliver_sm
# with a chosen command_status (0 takes it; an error refuses it), for
# SECONDS seconds, then unbinds. Prints "bound" once bound, then one line
# per deliver_sm: the Unix time in milliseconds and the receipt's id: (or
# "-" for an inbound message without one).
#
#   receiver.pl HOST PORT SYSTEM_ID PASSWORD STATUS SECONDS
use strict;
use warnings;
use IO::Select;
use Net::SMPP;
use Time::HiRes qw(time);
$| = 1;

my ($host, $port, $id, $pw, $status, $seconds) = @ARGV;
die "usage: $0 HOST PORT SYSTEM_ID PASSWORD STATUS SECONDS\n"
    unless defined $seconds;
$status = oct($status) if $status =~ /^0x/i;
my $smpp = Net::SMPP->new_receiver($host, port => $port, system_id => $id,
    password => $pw, smpp_version => 0x34) or die "bind failed\n";
print "bound\n";

my $end = time + $seconds;
my $sel = IO::Select->new($smpp);
while ((my $left = $end - time) > 0) {
    next unless $sel->can_read($left);
    my $pdu = $smpp->read_pdu() or die "connection lost\n";
    if ($pdu->{cmd} == 0x00000005) {    # deliver_sm
        my ($rid) = ($pdu->{short_message} // '') =~ /\bid:(\S+)/;
        printf "%d %s\n", int(time * 1000), $rid // '-';
        $smpp->deliver_sm_resp(seq => $pdu->{seq}, status => $status,
                               message_id => '');
    } elsif ($pdu->{cmd} == 0x00000015) {    # enquire_link
        $smpp->enquire_link_resp(seq => $pdu->{seq});
    }
}
$smpp->unbind();
exit 0;
