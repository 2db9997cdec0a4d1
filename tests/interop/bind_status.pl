#!/usr/bin/perl
# Bind once with Net::SMPP and print the bind_resp command_status as
# 0xNNNNNNNN (or "closed" when the server closed without answering).
#
#   bind_status.pl HOST PORT SYSTEM_ID PASSWORD [trx|tx|rx]
use strict;
use warnings;
use Net::SMPP;
$| = 1;
my ($host, $port, $id, $pw, $type) = @ARGV;
die "usage: $0 HOST PORT SYSTEM_ID PASSWORD [trx|tx|rx]\n" unless defined $pw;
$type //= 'trx';
$SIG{ALRM} = sub { print "timeout\n"; exit 1 };
alarm 20;
my $ctor = { trx => 'new_transceiver', tx => 'new_transmitter', rx => 'new_receiver' }->{$type}
    or die "bad bind type $type\n";
my ($smpp, $resp) = Net::SMPP->$ctor($host, port => $port, system_id => $id,
                                     password => $pw, smpp_version => 0x34);
if (!$resp) {
    print "closed\n";
    exit 0;
}
printf "0x%08x\n", $resp->{status};
# hold the bind briefly when asked (max_binds tests), then unbind
sleep($ENV{HOLD_SECONDS}) if $ENV{HOLD_SECONDS} && $resp->{status} == 0;
$smpp->unbind() if $resp->{status} == 0;
exit 0;
