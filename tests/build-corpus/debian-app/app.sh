#!/bin/sh
echo "hello from $(cat /opt/app/shell.txt)"
