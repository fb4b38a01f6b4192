# a link out of the context, to a file that exists outside it
echo outside > ../outside.txt
ln -s ../outside.txt escape
