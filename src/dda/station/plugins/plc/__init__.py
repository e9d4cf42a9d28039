"""PLC handshake plugins (Modbus TCP, OPC UA): a trigger and an output per protocol.

See :mod:`dda.station.plugins.plc.handshake` for the handshake both protocols share.
"""
